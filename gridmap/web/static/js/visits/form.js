/*
 * visits/form.js: the 民情日志 form shared by the visits page and the patrol page — the
 * channel (入户/电话/微信) as radio buttons and the topics as checkboxes, from the glossary,
 * and the body of a visit as the API takes it.
 */
import { el } from '../core/dom.js';
import { VISIT_CHANNEL_LABELS, VISIT_TOPIC_LABELS } from '../core/labels.js';

/** Fill the channel radios and topic checkboxes (`prefix` keeps the ids unique). */
export function fillChoices(channels, topics, prefix) {
  channels.replaceChildren(...Object.entries(VISIT_CHANNEL_LABELS).map(([code, label], i) =>
    el('label', { class: 'gm-choice' },
      el('input', {
        type: 'radio', name: `${prefix}-channel`, value: code, id: `${prefix}-channel-${code}`,
        ...(i === 0 ? { checked: 'checked' } : {}),
      }), ` ${label}`)));
  topics.replaceChildren(...Object.entries(VISIT_TOPIC_LABELS).map(([code, label]) =>
    el('label', { class: 'gm-choice' },
      el('input', {
        type: 'checkbox', name: `${prefix}-topic`, value: code, id: `${prefix}-topic-${code}`,
      }), ` ${label}`)));
}

/** A visit's body from the form: household, channel, topics, note and the time now. */
export function visitBody(form, prefix, householdId, at) {
  const channel = form.querySelector(`input[name="${prefix}-channel"]:checked`);
  const topics = Array.from(form.querySelectorAll(`input[name="${prefix}-topic"]:checked`))
    .map((box) => box.value);
  const note = form.querySelector('textarea').value.trim();
  const body = {
    household_id: Number(householdId),
    channel: channel ? channel.value : 'in_person',
    topics,
    at: new Date(at).toISOString(),
  };
  if (note) body.note = note;
  return body;
}

/** What a visit was, in words: "入户 · 养老照护、医疗健康". */
export function visitSummary(visit) {
  const topics = (visit.topics || []).map((t) => VISIT_TOPIC_LABELS[t] || t).join('、');
  const how = VISIT_CHANNEL_LABELS[visit.channel] || visit.channel;
  return topics ? `${how} · ${topics}` : how;
}
