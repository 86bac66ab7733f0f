-- 一张网: the overlay of one foreign layer (:layer_id) with our current units of :level
-- ('zone' or 'micro'). Areas are measured in the CGCS2000 Gauss–Krüger zone :srid; the
-- overlay is computed on the stored lon/lat geometries and only its results projected.
-- Statements are separated by lines holding only "-- ;" (gridmap.storage.onenet runs them in
-- order, in the caller's transaction).

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
-- Each cell against each unit it meets: the area in common and its share of both. A unit
-- wholly inside the cell (or the cell inside the unit) needs no intersection.
WITH unit AS (
    SELECT g.id, g.geom, ST_Area(ST_Transform(g.geom, :srid)) AS area_m2
    FROM grid g
    WHERE g.level = :level AND g.valid_to IS NULL
      AND g.geom && (SELECT ST_SetSRID(ST_Extent(geom)::geometry, 4490)
                     FROM foreign_cell WHERE layer_id = :layer_id)
), cut AS (
    SELECT c.id AS cell_id, u.id AS grid_id, c.area_m2 AS cell_area, u.area_m2 AS unit_area,
           CASE WHEN ST_CoveredBy(c.geom, u.geom) THEN c.area_m2
                WHEN ST_CoveredBy(u.geom, c.geom) THEN u.area_m2
                ELSE ST_Area(ST_Transform(ST_Intersection(c.geom, u.geom), :srid))
           END AS area_m2
    FROM foreign_cell c
    JOIN unit u ON ST_Intersects(c.geom, u.geom)
    WHERE c.layer_id = :layer_id
)
INSERT INTO onenet_piece (cell_id, grid_id, layer_id, area_m2, share_of_cell, share_of_grid)
SELECT cell_id, grid_id, :layer_id, area_m2,
       LEAST(area_m2 / NULLIF(cell_area, 0), 1), LEAST(area_m2 / NULLIF(unit_area, 0), 1)
FROM cut
WHERE area_m2 > 0 AND cell_area > 0 AND unit_area > 0;
-- ;
-- The households inside both (a household belongs to a zone through its micro-grid).
WITH inside AS (
    SELECT c.id AS cell_id,
           CASE WHEN :level = 'micro' THEN h.micro_grid_id ELSE m.parent_id END AS grid_id,
           count(*) AS n
    FROM foreign_cell c
    JOIN household h ON ST_Intersects(c.geom, h.geom)
    JOIN grid m ON m.id = h.micro_grid_id
    WHERE c.layer_id = :layer_id
    GROUP BY 1, 2
)
UPDATE onenet_piece p SET households = inside.n
FROM inside
WHERE p.layer_id = :layer_id AND p.cell_id = inside.cell_id AND p.grid_id = inside.grid_id;
-- ;
-- Each cell's verdict. Its best unit is the one it shares most area with; the pair is
-- aligned when their outlines are within :tolerance_m of each other (the Hausdorff distance
-- of the boundaries, densified). Otherwise the cell splits our units when it takes a real
-- part (more than :min_share of the unit or of the cell) of a unit without taking (nearly)
-- all of it; else it is made of whole units of ours (merges).
WITH best AS (
    SELECT DISTINCT ON (p.cell_id) p.cell_id, p.grid_id
    FROM onenet_piece p
    WHERE p.layer_id = :layer_id
    ORDER BY p.cell_id, p.area_m2 DESC, p.grid_id
), fit AS (
    SELECT b.cell_id, b.grid_id,
           ST_HausdorffDistance(ST_Boundary(ST_Transform(c.geom, :srid)),
                                ST_Boundary(ST_Transform(g.geom, :srid)), 0.25) AS hausdorff_m,
           ST_Area(ST_Transform(ST_SymDifference(c.geom, g.geom), :srid)) AS symdiff_m2
    FROM best b
    JOIN foreign_cell c ON c.id = b.cell_id
    JOIN grid g ON g.id = b.grid_id
), counted AS (
    SELECT p.cell_id,
           count(*) FILTER (
               WHERE p.share_of_grid < 1 - :min_share
                 AND (p.share_of_grid > :min_share OR p.share_of_cell > :min_share)
           ) AS cuts,
           sum(p.households) AS households
    FROM onenet_piece p
    WHERE p.layer_id = :layer_id
    GROUP BY p.cell_id
)
UPDATE foreign_cell c
SET best_grid_id = fit.grid_id,
    hausdorff_m = fit.hausdorff_m,
    symdiff_m2 = fit.symdiff_m2,
    households = counted.households,
    status = CASE WHEN fit.hausdorff_m <= :tolerance_m THEN 'aligned'
                  WHEN counted.cuts > 0 THEN 'splits'
                  ELSE 'merges' END
FROM fit
JOIN counted USING (cell_id)
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
