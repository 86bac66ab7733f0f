-- 一张网: the overlay of one foreign layer (:layer_id) with our current units of :level
-- ('zone' or 'micro'). Areas and distances are measured in the CGCS2000 Gauss–Krüger
-- zone :srid; the overlay itself is computed on the stored lon/lat geometries.
-- Statements are separated by lines holding only "-- ;" (gridmap.storage.onenet runs them in
-- order, in the caller's transaction).

-- One overlay of a layer at a time (a job asked for and the worker's refresh may meet): the
-- second waits for the first to commit, then rewrites it.
SELECT pg_advisory_xact_lock(hashtext('gridmap.onenet'), :layer_id);
-- ;
-- The planner's JIT compilation costs more than it saves on these few thousand rows.
SET LOCAL jit = off;
-- ;
-- The previous overlay of the layer goes.
DELETE FROM onenet_piece WHERE layer_id = :layer_id;
-- ;
DELETE FROM onenet_summary WHERE layer_id = :layer_id;
-- ;
UPDATE foreign_cell
SET area_m2 = ST_Area(ST_Transform(geom, :srid)),
    status = NULL, best_grid_id = NULL, hausdorff_m = NULL, symdiff_m2 = NULL, households = NULL
WHERE layer_id = :layer_id;
-- ;
-- Each cell against each unit it meets: the area in common, its share of both, and the
-- households inside both (a household belongs to a zone through its micro-grid). A unit
-- wholly inside the cell (or the cell inside the unit) needs no intersection. Shares are
-- ratios of lon/lat areas (the scale of a degree² varies by 0.005 % across a cell), and the
-- area in metres is the cell's share of its own measured area: no piece is projected.
WITH cut AS MATERIALIZED (
    SELECT c.id AS cell_id, u.id AS grid_id, c.area_m2 AS cell_m2,
           ST_Area(c.geom) AS cell_deg, ST_Area(u.geom) AS unit_deg,
           CASE WHEN ST_CoveredBy(c.geom, u.geom) THEN ST_Area(c.geom)
                WHEN ST_CoveredBy(u.geom, c.geom) THEN ST_Area(u.geom)
                ELSE ST_Area(ST_Intersection(c.geom, u.geom))
           END AS deg
    FROM foreign_cell c
    JOIN grid u ON ST_Intersects(c.geom, u.geom)
    WHERE c.layer_id = :layer_id AND u.level = :level AND u.valid_to IS NULL
), inside AS MATERIALIZED (
    SELECT c.id AS cell_id,
           CASE WHEN :level = 'micro' THEN h.micro_grid_id ELSE m.parent_id END AS grid_id,
           count(*) AS n
    FROM foreign_cell c
    JOIN household h ON ST_Intersects(c.geom, h.geom)
    JOIN grid m ON m.id = h.micro_grid_id
    WHERE c.layer_id = :layer_id
    GROUP BY 1, 2
)
INSERT INTO onenet_piece (cell_id, grid_id, layer_id, area_m2, share_of_cell, share_of_grid,
                          households)
SELECT cut.cell_id, cut.grid_id, :layer_id, cell_m2 * LEAST(deg / cell_deg, 1),
       LEAST(deg / cell_deg, 1), LEAST(deg / unit_deg, 1), coalesce(inside.n, 0)
FROM cut
LEFT JOIN inside ON inside.cell_id = cut.cell_id AND inside.grid_id = cut.grid_id
WHERE deg > 0 AND cell_deg > 0 AND unit_deg > 0;
-- ;
-- Each cell's verdict. Its best unit is the one it shares most area with; the pair is
-- aligned when their outlines are within :tolerance_m of each other (the Hausdorff distance
-- of the boundaries, densified). Otherwise the cell splits our units when it takes a real
-- part (more than :min_share of the unit or of the cell) of a unit without taking (nearly)
-- all of it; else it is made of whole units of ours (merges).
-- One pass over the pieces, then key lookups only: the pieces were written in this
-- transaction and have no statistics, so a join of two derived tables could be planned as a
-- nested loop over both.
WITH per_cell AS MATERIALIZED (
    SELECT p.cell_id,
           (array_agg(p.grid_id ORDER BY p.area_m2 DESC, p.grid_id))[1] AS grid_id,
           (array_agg(p.area_m2 ORDER BY p.area_m2 DESC, p.grid_id))[1] AS area_m2,
           (array_agg(p.share_of_grid ORDER BY p.area_m2 DESC, p.grid_id))[1] AS share_of_grid,
           count(*) FILTER (
               WHERE p.share_of_grid < 1 - :min_share
                 AND (p.share_of_grid > :min_share OR p.share_of_cell > :min_share)
           ) AS cuts,
           sum(p.households) AS households
    FROM onenet_piece p
    WHERE p.layer_id = :layer_id
    GROUP BY p.cell_id
), fit AS (
    -- Symmetric difference = both areas less twice the common one (no overlay needed).
    SELECT v.cell_id, v.grid_id, v.cuts, v.households,
           ST_HausdorffDistance(ST_Boundary(ST_Transform(c.geom, :srid)),
                                ST_Boundary(ST_Transform(g.geom, :srid)), 0.25) AS hausdorff_m,
           GREATEST(c.area_m2 + v.area_m2 / NULLIF(v.share_of_grid, 0) - 2 * v.area_m2, 0)
               AS symdiff_m2
    FROM per_cell v
    JOIN foreign_cell c ON c.id = v.cell_id
    JOIN grid g ON g.id = v.grid_id
)
UPDATE foreign_cell c
SET best_grid_id = fit.grid_id,
    hausdorff_m = fit.hausdorff_m,
    symdiff_m2 = fit.symdiff_m2,
    households = fit.households,
    status = CASE WHEN fit.hausdorff_m <= :tolerance_m THEN 'aligned'
                  WHEN fit.cuts > 0 THEN 'splits'
                  ELSE 'merges' END
FROM fit
WHERE c.id = fit.cell_id;
-- ;
UPDATE foreign_cell SET status = 'outside', households = 0
WHERE layer_id = :layer_id AND status IS NULL;
-- ;
-- Per community the layer reaches: its units, those an aligned cell matches, those a cell
-- splits, and the area and households of the community inside aligned cells.
WITH reached AS (
    SELECT DISTINCT CASE WHEN :level = 'micro' THEN z.parent_id ELSE u.parent_id END AS id
    FROM onenet_piece p
    JOIN grid u ON u.id = p.grid_id
    LEFT JOIN grid z ON z.id = u.parent_id
    WHERE p.layer_id = :layer_id
), unit AS (
    SELECT u.id, r.id AS community_id, ST_Area(ST_Transform(u.geom, :srid)) AS area_m2
    FROM grid u
    LEFT JOIN grid z ON z.id = u.parent_id
    JOIN reached r ON r.id = CASE WHEN :level = 'micro' THEN z.parent_id ELSE u.parent_id END
    WHERE u.level = :level AND u.valid_to IS NULL
), dwellers AS (
    SELECT CASE WHEN :level = 'micro' THEN h.micro_grid_id ELSE m.parent_id END AS grid_id,
           count(*) AS n
    FROM household h
    JOIN grid m ON m.id = h.micro_grid_id
    WHERE (CASE WHEN :level = 'micro' THEN h.micro_grid_id ELSE m.parent_id END)
          IN (SELECT id FROM unit)
    GROUP BY 1
), in_aligned AS (
    SELECT p.grid_id, sum(p.area_m2) AS area_m2, sum(p.households) AS households
    FROM onenet_piece p
    JOIN foreign_cell c ON c.id = p.cell_id AND c.status = 'aligned'
    WHERE p.layer_id = :layer_id
    GROUP BY p.grid_id
), matched AS (
    SELECT DISTINCT best_grid_id AS grid_id FROM foreign_cell
    WHERE layer_id = :layer_id AND status = 'aligned'
), split AS (
    SELECT DISTINCT p.grid_id
    FROM onenet_piece p
    WHERE p.layer_id = :layer_id
      AND p.share_of_grid < 1 - :min_share
      AND (p.share_of_grid > :min_share OR p.share_of_cell > :min_share)
)
INSERT INTO onenet_summary (layer_id, community_id, units, aligned_units, split_units, area_m2,
                            aligned_area_m2, households, aligned_households)
SELECT :layer_id, unit.community_id, count(*),
       count(*) FILTER (WHERE unit.id IN (SELECT grid_id FROM matched)),
       count(*) FILTER (WHERE unit.id IN (SELECT grid_id FROM split)),
       sum(unit.area_m2),
       coalesce(sum(LEAST(in_aligned.area_m2, unit.area_m2)), 0),
       coalesce(sum(dwellers.n), 0),
       coalesce(sum(in_aligned.households), 0)
FROM unit
LEFT JOIN in_aligned ON in_aligned.grid_id = unit.id
LEFT JOIN dwellers ON dwellers.grid_id = unit.id
WHERE unit.community_id IS NOT NULL
GROUP BY unit.community_id;
