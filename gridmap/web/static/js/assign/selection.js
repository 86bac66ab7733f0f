/*
 * assign/selection.js: choosing households — by rectangle or polygon (Leaflet.Draw), freehand
 * lasso (leaflet-lasso), a click (one household, its building, its micro-grid) — and giving
 * them to the current member or releasing them (POST …/coverage).
 */
import { BUILDING_RADIUS_M, COLOURS, inRing, metresBetween } from './shared.js';

/** Methods of the assignment page (mixed into AssignPage). */
export class AssignSelection {
  pickMode() {
    const checked = document.querySelector('input[name="pick"]:checked');
    return checked ? checked.value : 'household';
  }

  householdsIn(microCode) {
    return [...this.households.values()].filter((h) => h.micro === microCode);
  }

  /** A click on a household: it, its building or its micro-grid, by the chosen mode. */
  pick(house) {
    const mode = this.pickMode();
    if (mode === 'household') {
      this.toggleGroup([house]);
    } else if (mode === 'building') {
      const at = house.marker.getLatLng();
      this.toggleGroup([...this.households.values()].filter((h) => h.micro === house.micro
        && metresBetween(h.marker.getLatLng(), at) <= BUILDING_RADIUS_M));
    } else {
      this.toggleGroup(house.micro ? this.householdsIn(house.micro) : [house]);
    }
  }

  /** Select a group, or unselect it when all of it is selected already. */
  toggleGroup(group) {
    const all = group.length > 0 && group.every((h) => this.selection.has(h.id));
    group.forEach((h) => (all ? this.selection.delete(h.id) : this.selection.add(h.id)));
    group.forEach((h) => this.restyle(h));
    this.renderSelection();
  }

  /** Add the households inside a drawn shape (display lat/lngs) to the selection. */
  selectInside(latLngs) {
    const ring = latLngs.map((ll) => [ll.lng, ll.lat]);
    const inside = [...this.households.values()].filter((h) => {
      const ll = h.marker.getLatLng();
      return inRing(ll.lng, ll.lat, ring);
    });
    inside.forEach((h) => { this.selection.add(h.id); this.restyle(h); });
    this.renderSelection();
    this.say(`圈选到 ${inside.length} 户`);
  }

  clearSelection() {
    const was = [...this.selection];
    this.selection.clear();
    was.forEach((id) => this.restyle(this.households.get(id)));
    this.renderSelection();
  }

  renderSelection() {
    document.getElementById('gm-selected-count').textContent = String(this.selection.size);
  }

  setUpDrawing() {
    const local = L.drawLocal.draw.handlers;
    local.rectangle.tooltip.start = '按住鼠标拖动，框选住户';
    local.simpleshape.tooltip.end = '松开鼠标完成框选';
    local.polygon.tooltip = {
      start: '单击开始绘制多边形',
      cont: '单击继续添加顶点',
      end: '单击第一个顶点完成',
    };
    const shape = { color: COLOURS.selected, weight: 2, fillOpacity: 0.1 };
    this.tools = {
      rectangle: new L.Draw.Rectangle(this.map, { shapeOptions: shape, showArea: false }),
      polygon: new L.Draw.Polygon(this.map, {
        shapeOptions: shape, showArea: false, showLength: false, allowIntersection: true,
      }),
      lasso: L.lasso(this.map, { polygon: { color: COLOURS.selected, weight: 2 } }),
    };
    this.map.on(L.Draw.Event.CREATED, (e) => this.selectInside(e.layer.getLatLngs()[0]));
    this.map.on('lasso.finished', (e) => this.selectInside(e.latLngs));
    const done = () => this.markTool(null);
    this.map.on(L.Draw.Event.DRAWSTOP, done);
    this.map.on('lasso.disabled', done);
  }

  startTool(name) {
    Object.entries(this.tools).forEach(([key, tool]) => {
      if (key !== name && tool.enabled()) tool.disable();
    });
    const tool = this.tools[name];
    if (tool.enabled()) {
      tool.disable();
      return;
    }
    tool.enable();
    this.markTool(name);
  }

  markTool(name) {
    document.querySelectorAll('[data-tool]').forEach((b) => {
      b.setAttribute('aria-pressed', String(b.dataset.tool === name));
    });
  }

  // ---- assign and release ---------------------------------------------------------------------

  async changeSelection(personId) {
    const ids = [...this.selection];
    if (!ids.length) {
      this.say('请先在地图上选择住户');
      return;
    }
    if (this.proposal) {
      // Adjusting the proposal: nothing is written until it is accepted.
      ids.forEach((id) => this.proposal.pairs.set(id, personId));
      this.selection.clear();
      this.renderAll();
      this.say(`已在方案中调整 ${ids.length} 户`);
      return;
    }
    const body = personId === null
      ? { op: 'release', household_ids: ids }
      : { op: 'assign', person_id: personId, household_ids: ids };
    await this.run(personId === null ? '解除包户' : '分配', async () => {
      const answer = await this.write(`/grids/${encodeURIComponent(this.code)}/coverage`, body);
      this.etag = answer.etag;
      this.selection.clear();
      await this.reload();
      this.say(personId === null
        ? `已解除 ${answer.changed} 户的包户` : `已分配 ${answer.changed} 户`);
    });
  }

  assignSelection() {
    if (this.currentMember === null) {
      this.say('请先在“党员”列表中点击选择当前党员');
      return Promise.resolve();
    }
    return this.changeSelection(this.currentMember);
  }

}
