-- checked (table)
SELECT
  source_file,
  source_row,
  t_claim_id AS claim_id,
  TRY_CAST(t_line_number AS BIGINT) AS line_number,
  t_member_id AS member_id,
  TRY_CAST(t_service_date AS DATE) AS service_date,
  UPPER(t_hcpcs) AS hcpcs,
  UPPER(t_modifiers) AS modifiers,
  TRY_CAST(t_units AS BIGINT) AS units,
  CASE
    WHEN LENGTH(t_dx1) > 3 AND LOCATE('.', t_dx1) = 0
    THEN UPPER(SUBSTRING(t_dx1, 1, 3) || '.' || SUBSTRING(t_dx1, 4))
    ELSE UPPER(t_dx1)
  END AS dx1,
  CASE
    WHEN LENGTH(t_dx2) > 3 AND LOCATE('.', t_dx2) = 0
    THEN UPPER(SUBSTRING(t_dx2, 1, 3) || '.' || SUBSTRING(t_dx2, 4))
    ELSE UPPER(t_dx2)
  END AS dx2,
  CASE
    WHEN LENGTH(t_dx3) > 3 AND LOCATE('.', t_dx3) = 0
    THEN UPPER(SUBSTRING(t_dx3, 1, 3) || '.' || SUBSTRING(t_dx3, 4))
    ELSE UPPER(t_dx3)
  END AS dx3,
  CASE
    WHEN LENGTH(t_dx4) > 3 AND LOCATE('.', t_dx4) = 0
    THEN UPPER(SUBSTRING(t_dx4, 1, 3) || '.' || SUBSTRING(t_dx4, 4))
    ELSE UPPER(t_dx4)
  END AS dx4,
  t_rendering_npi AS rendering_npi,
  t_billing_npi AS billing_npi,
  t_place_of_service AS place_of_service,
  TRY_CAST(t_paid_amount AS DECIMAL(12, 2)) AS paid_amount,
  reject_reason,
  CASE
    WHEN reject_reason IS NULL
    THEN NULL
    ELSE CASE SPLIT_PART(reject_reason, ':', 1)
      WHEN 'claim_id'
      THEN CAST(t_claim_id AS STRING)
      WHEN 'line_number'
      THEN CAST(t_line_number AS STRING)
      WHEN 'member_id'
      THEN CAST(t_member_id AS STRING)
      WHEN 'service_date'
      THEN CAST(t_service_date AS STRING)
      WHEN 'hcpcs'
      THEN CAST(t_hcpcs AS STRING)
      WHEN 'modifiers'
      THEN CAST(t_modifiers AS STRING)
      WHEN 'units'
      THEN CAST(t_units AS STRING)
      WHEN 'dx1'
      THEN CAST(t_dx1 AS STRING)
      WHEN 'dx2'
      THEN CAST(t_dx2 AS STRING)
      WHEN 'dx3'
      THEN CAST(t_dx3 AS STRING)
      WHEN 'dx4'
      THEN CAST(t_dx4 AS STRING)
      WHEN 'rendering_npi'
      THEN CAST(t_rendering_npi AS STRING)
      WHEN 'billing_npi'
      THEN CAST(t_billing_npi AS STRING)
      WHEN 'place_of_service'
      THEN CAST(t_place_of_service AS STRING)
      WHEN 'paid_amount'
      THEN CAST(t_paid_amount AS STRING)
    END
  END AS reject_value
FROM (
  SELECT
    *,
    CASE
      WHEN t_claim_id IS NULL
      THEN 'claim_id: required, missing'
      WHEN NOT t_claim_id RLIKE '^([^\\s].{0,63})$'
      THEN 'claim_id: expected an id'
      WHEN t_line_number IS NULL
      THEN 'line_number: required, missing'
      WHEN NOT t_line_number RLIKE '^([1-9][0-9]{0,3})$'
      THEN 'line_number: expected a line number'
      WHEN t_member_id IS NULL
      THEN 'member_id: required, missing'
      WHEN NOT t_member_id RLIKE '^([^\\s].{0,63})$'
      THEN 'member_id: expected an id'
      WHEN t_service_date IS NULL
      THEN 'service_date: required, missing'
      WHEN NOT t_service_date RLIKE '^([0-9]{4}-[0-9]{2}-[0-9]{2})$'
      THEN 'service_date: expected a date (YYYY-MM-DD)'
      WHEN TRY_CAST(t_service_date AS DATE) IS NULL
      THEN 'service_date: no such date'
      WHEN t_hcpcs IS NULL
      THEN 'hcpcs: required, missing'
      WHEN NOT t_hcpcs RLIKE '^([A-Za-z][0-9]{4})$'
      THEN 'hcpcs: expected a HCPCS code'
      WHEN NOT t_modifiers RLIKE '^([A-Za-z0-9]{2}(:[A-Za-z0-9]{2}){0,3})$'
      THEN 'modifiers: expected modifiers like JW or JW:KX'
      WHEN t_units IS NULL
      THEN 'units: required, missing'
      WHEN NOT t_units RLIKE '^([1-9][0-9]{0,5})$'
      THEN 'units: expected whole units'
      WHEN t_dx1 IS NULL
      THEN 'dx1: required, missing'
      WHEN NOT t_dx1 RLIKE '^([A-Za-z][0-9][0-9A-Za-z](\\.?[0-9A-Za-z]{1,4})?)$'
      THEN 'dx1: expected an ICD-10-CM code'
      WHEN NOT t_dx2 RLIKE '^([A-Za-z][0-9][0-9A-Za-z](\\.?[0-9A-Za-z]{1,4})?)$'
      THEN 'dx2: expected an ICD-10-CM code'
      WHEN NOT t_dx3 RLIKE '^([A-Za-z][0-9][0-9A-Za-z](\\.?[0-9A-Za-z]{1,4})?)$'
      THEN 'dx3: expected an ICD-10-CM code'
      WHEN NOT t_dx4 RLIKE '^([A-Za-z][0-9][0-9A-Za-z](\\.?[0-9A-Za-z]{1,4})?)$'
      THEN 'dx4: expected an ICD-10-CM code'
      WHEN t_rendering_npi IS NULL
      THEN 'rendering_npi: required, missing'
      WHEN NOT t_rendering_npi RLIKE '^([0-9]{10})$'
      THEN 'rendering_npi: expected a 10-digit NPI'
      WHEN t_billing_npi IS NULL
      THEN 'billing_npi: required, missing'
      WHEN NOT t_billing_npi RLIKE '^([0-9]{10})$'
      THEN 'billing_npi: expected a 10-digit NPI'
      WHEN t_place_of_service IS NULL
      THEN 'place_of_service: required, missing'
      WHEN NOT t_place_of_service RLIKE '^([0-9]{2})$'
      THEN 'place_of_service: expected a 2-digit code'
      WHEN t_paid_amount IS NULL
      THEN 'paid_amount: required, missing'
      WHEN NOT t_paid_amount RLIKE '^([0-9]{1,10}(\\.[0-9]{1,2})?)$'
      THEN 'paid_amount: expected an amount like 1234.56'
    END AS reject_reason
  FROM (
    SELECT
      source_file,
      source_row,
      NULLIF(TRIM(CAST(claim_id AS STRING)), '') AS t_claim_id,
      NULLIF(TRIM(CAST(line_number AS STRING)), '') AS t_line_number,
      NULLIF(TRIM(CAST(member_id AS STRING)), '') AS t_member_id,
      NULLIF(TRIM(CAST(service_date AS STRING)), '') AS t_service_date,
      NULLIF(TRIM(CAST(hcpcs AS STRING)), '') AS t_hcpcs,
      NULLIF(TRIM(CAST(modifiers AS STRING)), '') AS t_modifiers,
      NULLIF(TRIM(CAST(units AS STRING)), '') AS t_units,
      NULLIF(TRIM(CAST(dx1 AS STRING)), '') AS t_dx1,
      NULLIF(TRIM(CAST(dx2 AS STRING)), '') AS t_dx2,
      NULLIF(TRIM(CAST(dx3 AS STRING)), '') AS t_dx3,
      NULLIF(TRIM(CAST(dx4 AS STRING)), '') AS t_dx4,
      NULLIF(TRIM(CAST(rendering_npi AS STRING)), '') AS t_rendering_npi,
      NULLIF(TRIM(CAST(billing_npi AS STRING)), '') AS t_billing_npi,
      NULLIF(TRIM(CAST(place_of_service AS STRING)), '') AS t_place_of_service,
      NULLIF(TRIM(CAST(paid_amount AS STRING)), '') AS t_paid_amount
    FROM claims_source
  ) AS read_text
) AS read_checked;

-- rejected (table)
SELECT
  source_file,
  source_row,
  reject_reason,
  reject_value
FROM checked
WHERE
  NOT reject_reason IS NULL;

-- lines (table)
SELECT
  c.source_file,
  c.source_row,
  c.claim_id,
  c.line_number,
  c.member_id,
  c.service_date,
  c.hcpcs,
  c.modifiers,
  c.units,
  c.dx1,
  c.dx2,
  c.dx3,
  c.dx4,
  c.rendering_npi,
  c.billing_npi,
  c.place_of_service,
  c.paid_amount,
  f.drug,
  (
    ':' || COALESCE(c.modifiers, '') || ':'
  ) LIKE '%:JW:%' AS is_jw,
  (
    ':' || COALESCE(c.modifiers, '') || ':'
  ) LIKE '%:JZ:%' AS is_jz,
  ROW_NUMBER() OVER (
    PARTITION BY c.member_id, c.service_date, c.hcpcs, COALESCE(c.modifiers, ''), c.units, c.rendering_npi
    ORDER BY c.claim_id NULLS LAST, c.line_number NULLS LAST, c.source_file NULLS LAST, c.source_row NULLS LAST
  ) AS duplicate_rank,
  FIRST_VALUE(c.claim_id) OVER (
    PARTITION BY c.member_id, c.service_date, c.hcpcs, COALESCE(c.modifiers, ''), c.units, c.rendering_npi
    ORDER BY c.claim_id NULLS LAST, c.line_number NULLS LAST, c.source_file NULLS LAST, c.source_row NULLS LAST
  ) AS first_claim_id,
  FIRST_VALUE(c.line_number) OVER (
    PARTITION BY c.member_id, c.service_date, c.hcpcs, COALESCE(c.modifiers, ''), c.units, c.rendering_npi
    ORDER BY c.claim_id NULLS LAST, c.line_number NULLS LAST, c.source_file NULLS LAST, c.source_row NULLS LAST
  ) AS first_line_number
FROM checked AS c
JOIN family AS f
  ON c.hcpcs = f.hcpcs
WHERE
  c.reject_reason IS NULL;

-- auths
SELECT
  a.*,
  f.drug
FROM authorizations AS a
JOIN family AS f
  ON a.hcpcs = f.hcpcs;

-- administrations (table)
SELECT
  x.*,
  CASE WHEN m.weight_kg <= CAST('400' AS DECIMAL(3, 0)) THEN m.weight_kg END AS weight_kg,
  CAST(SUM(x.administered_units) OVER (
    PARTITION BY x.authorization_id
    ORDER BY x.service_date NULLS LAST
    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
  ) AS BIGINT) AS units_to_date
FROM (
  SELECT
    d.*,
    a.authorization_id,
    a.period_start,
    a.period_end,
    a.units_per_administration AS authorized_units_per_administration,
    a.total_units AS authorized_total_units,
    ROW_NUMBER() OVER (
      PARTITION BY d.member_id, d.service_date
      ORDER BY a.period_start DESC, a.authorization_id DESC
    ) AS authorization_rank
  FROM (
    SELECT
      g.*,
      CASE
        WHEN g.administered_units > 0
        THEN LAG(g.service_date) OVER (
          PARTITION BY g.member_id, g.administered_units > 0
          ORDER BY g.service_date NULLS LAST
        )
      END AS previous_service_date
    FROM (
      SELECT
        member_id,
        service_date,
        CAST(SUM(CASE WHEN is_jw THEN 0 ELSE units END) AS BIGINT) AS administered_units,
        CAST(SUM(CASE WHEN is_jw THEN units ELSE 0 END) AS BIGINT) AS jw_units,
        CAST(SUM(CASE WHEN is_jw THEN 1 ELSE 0 END) AS BIGINT) AS jw_lines,
        CAST(SUM(CASE WHEN is_jz THEN 1 ELSE 0 END) AS BIGINT) AS jz_lines
      FROM lines
      WHERE
        hcpcs = 'J9354' AND duplicate_rank = 1
      GROUP BY
        member_id,
        service_date
    ) AS g
  ) AS d
  LEFT JOIN auths AS a
    ON a.member_id = d.member_id
    AND a.drug = 'ado_trastuzumab_emtansine'
    AND d.service_date BETWEEN a.period_start AND a.period_end
) AS x
LEFT JOIN members AS m
  ON m.member_id = x.member_id
WHERE
  x.authorization_rank = 1;

-- administered
SELECT
  a.*,
  v.waste_units AS expected_waste_units,
  v.vials
FROM administrations AS a
LEFT JOIN vial_plans AS v
  ON v.units = a.administered_units;

-- drug_lines
SELECT
  l.*,
  a.administered_units,
  a.jw_units,
  a.jw_lines,
  a.jz_lines,
  a.previous_service_date,
  a.authorization_id,
  a.period_start,
  a.period_end,
  a.authorized_units_per_administration,
  a.authorized_total_units,
  a.weight_kg,
  a.units_to_date,
  a.expected_waste_units,
  a.vials
FROM lines AS l
JOIN administered AS a
  ON a.member_id = l.member_id AND a.service_date = l.service_date
WHERE
  l.hcpcs = 'J9354' AND l.duplicate_rank = 1;

-- coverage (table)
SELECT
  k.member_id,
  k.service_date,
  k.drug,
  MAX(CASE WHEN a.drug = k.drug THEN 1 ELSE 0 END) AS same_drug,
  MIN(CASE WHEN a.drug <> k.drug THEN a.hcpcs END) AS other_hcpcs,
  MIN(CASE WHEN a.drug <> k.drug THEN a.drug END) AS other_drug
FROM (
  SELECT DISTINCT
    member_id,
    service_date,
    drug
  FROM lines
  WHERE
    duplicate_rank = 1
) AS k
JOIN auths AS a
  ON a.member_id = k.member_id
  AND k.service_date BETWEEN a.period_start AND a.period_end
GROUP BY
  k.member_id,
  k.service_date,
  k.drug;

-- flags (table)
SELECT
  *
FROM (
  (
    SELECT
      l.claim_id,
      l.line_number,
      l.member_id,
      l.service_date,
      l.hcpcs,
      l.modifiers,
      l.units,
      l.rendering_npi,
      l.billing_npi,
      l.paid_amount,
      l.source_file,
      l.source_row,
      'diagnosis_supports_indication' AS `check`,
      'Billing/Coding > ICD-10 Diagnosis Codes That Support Medical Necessity; Position Statement > Initiation > 5' AS clause,
      'dx=' || l.dx1 || COALESCE(',' || l.dx2, '') || COALESCE(',' || l.dx3, '') || COALESCE(',' || l.dx4, '') || '; code_set=' || 'ICD-10-CM FY2026 (April 1, 2026)' AS `values`
    FROM lines AS l
    WHERE
      l.hcpcs = 'J9354'
      AND l.duplicate_rank = 1
      AND NOT (
        COALESCE(
          l.dx1 IN (
            SELECT
              code
            FROM policy_codes
          )
          OR (
            l.dx1 IN ('C50.A0', 'C50.A1', 'C50.A2')
            AND l.service_date >= CAST('2025-10-01' AS DATE)
          ),
          FALSE
        )
        OR COALESCE(
          l.dx2 IN (
            SELECT
              code
            FROM policy_codes
          )
          OR (
            l.dx2 IN ('C50.A0', 'C50.A1', 'C50.A2')
            AND l.service_date >= CAST('2025-10-01' AS DATE)
          ),
          FALSE
        )
        OR COALESCE(
          l.dx3 IN (
            SELECT
              code
            FROM policy_codes
          )
          OR (
            l.dx3 IN ('C50.A0', 'C50.A1', 'C50.A2')
            AND l.service_date >= CAST('2025-10-01' AS DATE)
          ),
          FALSE
        )
        OR COALESCE(
          l.dx4 IN (
            SELECT
              code
            FROM policy_codes
          )
          OR (
            l.dx4 IN ('C50.A0', 'C50.A1', 'C50.A2')
            AND l.service_date >= CAST('2025-10-01' AS DATE)
          ),
          FALSE
        )
      )
  )
  UNION ALL
  (
    SELECT
      l.claim_id,
      l.line_number,
      l.member_id,
      l.service_date,
      l.hcpcs,
      l.modifiers,
      l.units,
      l.rendering_npi,
      l.billing_npi,
      l.paid_amount,
      l.source_file,
      l.source_row,
      'units_within_dose_limit' AS `check`,
      'Position Statement > Initiation > 1.e, 2.c, 3.d, 4.c, 5.b; Position Statement > Continuation > 3' AS clause,
      CASE
        WHEN NOT l.weight_kg IS NULL
        THEN 'administered_units=' || COALESCE(CAST(l.administered_units AS STRING), 'none') || '; weight_kg=' || COALESCE(CAST(l.weight_kg AS STRING), 'none') || '; max_mg_per_kg=' || '3.6' || '; max_units=' || COALESCE(
          CAST(CAST(CEIL(CAST('3.6' AS DECIMAL(2, 1)) * l.weight_kg) AS BIGINT) AS STRING),
          'none'
        )
        ELSE 'administered_units=' || COALESCE(CAST(l.administered_units AS STRING), 'none') || '; authorized_units_per_administration=' || COALESCE(CAST(l.authorized_units_per_administration AS STRING), 'none') || '; authorization=' || COALESCE(CAST(l.authorization_id AS STRING), 'none')
      END AS `values`
    FROM drug_lines AS l
    WHERE
      l.hcpcs = 'J9354'
      AND l.duplicate_rank = 1
      AND NOT l.is_jw
      AND COALESCE(
        CASE
          WHEN NOT l.weight_kg IS NULL
          THEN (
            l.administered_units - 1
          ) >= CAST('3.6' AS DECIMAL(2, 1)) * l.weight_kg
          ELSE l.administered_units > l.authorized_units_per_administration
        END,
        FALSE
      )
  )
  UNION ALL
  (
    SELECT
      l.claim_id,
      l.line_number,
      l.member_id,
      l.service_date,
      l.hcpcs,
      l.modifiers,
      l.units,
      l.rendering_npi,
      l.billing_npi,
      l.paid_amount,
      l.source_file,
      l.source_row,
      'dosing_interval' AS `check`,
      'Position Statement > Initiation > 1.e, 2.c, 3.d, 4.c, 5.b; Position Statement > Continuation > 3' AS clause,
      'previous_service_date=' || COALESCE(CAST(l.previous_service_date AS STRING), 'none') || '; days=' || COALESCE(CAST(DATEDIFF(DAY, l.previous_service_date, l.service_date) AS STRING), 'none') || '; min_days=' || '21' AS `values`
    FROM drug_lines AS l
    WHERE
      l.hcpcs = 'J9354'
      AND l.duplicate_rank = 1
      AND NOT l.is_jw
      AND NOT l.previous_service_date IS NULL
      AND DATEDIFF(DAY, l.previous_service_date, l.service_date) < 21
  )
  UNION ALL
  (
    SELECT
      l.claim_id,
      l.line_number,
      l.member_id,
      l.service_date,
      l.hcpcs,
      l.modifiers,
      l.units,
      l.rendering_npi,
      l.billing_npi,
      l.paid_amount,
      l.source_file,
      l.source_row,
      'jw_jz_matches_vials' AS `check`,
      'Dosage/Administration > Drug Availability' AS clause,
      'administered_units=' || COALESCE(CAST(l.administered_units AS STRING), 'none') || '; jw_units=' || COALESCE(CAST(l.jw_units AS STRING), 'none') || '; expected_waste_units=' || COALESCE(CAST(l.expected_waste_units AS STRING), 'none') || '; vials=' || COALESCE(CAST(l.vials AS STRING), 'none') AS `values`
    FROM drug_lines AS l
    WHERE
      l.hcpcs = 'J9354'
      AND l.duplicate_rank = 1
      AND COALESCE(
        CASE
          WHEN l.is_jz
          THEN l.expected_waste_units >= 1 OR l.jw_lines > 0
          WHEN l.is_jw
          THEN l.administered_units = 0
          OR l.expected_waste_units = 0
          OR l.jw_units <> l.expected_waste_units
          ELSE (
            l.expected_waste_units >= 1 AND l.jw_lines = 0
          )
          OR (
            l.expected_waste_units = 0 AND l.jz_lines = 0
          )
        END,
        FALSE
      )
  )
  UNION ALL
  (
    SELECT
      l.claim_id,
      l.line_number,
      l.member_id,
      l.service_date,
      l.hcpcs,
      l.modifiers,
      l.units,
      l.rendering_npi,
      l.billing_npi,
      l.paid_amount,
      l.source_file,
      l.source_row,
      'authorization_on_file' AS `check`,
      'Position Statement > Initiation' AS clause,
      'hcpcs=' || l.hcpcs || '; service_date=' || COALESCE(CAST(l.service_date AS STRING), 'none') || '; authorization=none' AS `values`
    FROM drug_lines AS l
    WHERE
      l.hcpcs = 'J9354'
      AND l.duplicate_rank = 1
      AND NOT l.is_jw
      AND l.authorization_id IS NULL
  )
  UNION ALL
  (
    SELECT
      l.claim_id,
      l.line_number,
      l.member_id,
      l.service_date,
      l.hcpcs,
      l.modifiers,
      l.units,
      l.rendering_npi,
      l.billing_npi,
      l.paid_amount,
      l.source_file,
      l.source_row,
      'authorized_units_not_exceeded' AS `check`,
      'Position Statement > Initiation' AS clause,
      'authorization=' || l.authorization_id || '; units_to_date=' || COALESCE(CAST(l.units_to_date AS STRING), 'none') || '; total_units=' || COALESCE(CAST(l.authorized_total_units AS STRING), 'none') || '; period=' || COALESCE(CAST(l.period_start AS STRING), 'none') || '..' || COALESCE(CAST(l.period_end AS STRING), 'none') AS `values`
    FROM drug_lines AS l
    WHERE
      l.hcpcs = 'J9354'
      AND l.duplicate_rank = 1
      AND NOT l.is_jw
      AND NOT l.authorization_id IS NULL
      AND l.units_to_date > l.authorized_total_units
  )
  UNION ALL
  (
    SELECT
      l.claim_id,
      l.line_number,
      l.member_id,
      l.service_date,
      l.hcpcs,
      l.modifiers,
      l.units,
      l.rendering_npi,
      l.billing_npi,
      l.paid_amount,
      l.source_file,
      l.source_row,
      'look_alike_product' AS `check`,
      'Precautions > Boxed Warning' AS clause,
      'billed=' || l.hcpcs || ' (' || l.drug || '); authorized=' || v.other_hcpcs || ' (' || v.other_drug || ')' AS `values`
    FROM lines AS l
    JOIN coverage AS v
      ON v.member_id = l.member_id AND v.service_date = l.service_date AND v.drug = l.drug
    WHERE
      l.duplicate_rank = 1 AND v.same_drug = 0 AND NOT v.other_hcpcs IS NULL
  )
  UNION ALL
  (
    SELECT
      l.claim_id,
      l.line_number,
      l.member_id,
      l.service_date,
      l.hcpcs,
      l.modifiers,
      l.units,
      l.rendering_npi,
      l.billing_npi,
      l.paid_amount,
      l.source_file,
      l.source_row,
      'duplicate_line' AS `check`,
      'Billing/Coding > HCPCS Coding' AS clause,
      'duplicate_of=' || l.first_claim_id || '/' || CAST(l.first_line_number AS STRING) AS `values`
    FROM lines AS l
    WHERE
      l.duplicate_rank > 1
  )
) AS flagged
ORDER BY
  claim_id NULLS LAST,
  line_number NULLS LAST,
  `check` NULLS LAST,
  source_file NULLS LAST,
  source_row NULLS LAST;

-- rejects
SELECT
  source_file,
  source_row,
  SPLIT_PART(reject_reason, ':', 1) AS `column`,
  reject_value AS `value`,
  TRIM(SUBSTRING(reject_reason, LOCATE(':', reject_reason) + 1)) AS reason
FROM rejected
ORDER BY
  source_file NULLS LAST,
  source_row NULLS LAST;

-- audited (table)
SELECT
  l.billing_npi,
  DATE_FORMAT(l.service_date, 'yyyy-MM') AS month,
  COUNT(*) AS lines,
  CAST(SUM(l.paid_amount) AS DECIMAL(18, 2)) AS paid,
  CAST(SUM(CASE WHEN f.source_row IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS lines_flagged,
  CAST(SUM(CASE WHEN f.source_row IS NULL THEN 0 ELSE l.paid_amount END) AS DECIMAL(18, 2)) AS dollars_at_risk
FROM lines AS l
LEFT JOIN (
  SELECT DISTINCT
    source_file,
    source_row
  FROM flags
) AS f
  ON f.source_file = l.source_file AND f.source_row = l.source_row
GROUP BY
  l.billing_npi,
  DATE_FORMAT(l.service_date, 'yyyy-MM');

-- summary_by_check
SELECT
  `check`,
  clause,
  COUNT(*) AS lines_flagged,
  CAST(SUM(paid_amount) AS DECIMAL(18, 2)) AS dollars_at_risk
FROM flags
GROUP BY
  `check`,
  clause
ORDER BY
  dollars_at_risk DESC,
  `check` NULLS LAST;

-- summary_by_provider
SELECT
  billing_npi,
  CAST(SUM(lines) AS BIGINT) AS lines,
  CAST(SUM(paid) AS DECIMAL(18, 2)) AS paid,
  CAST(SUM(lines_flagged) AS BIGINT) AS lines_flagged,
  CAST(SUM(dollars_at_risk) AS DECIMAL(18, 2)) AS dollars_at_risk
FROM audited
GROUP BY
  billing_npi
ORDER BY
  dollars_at_risk DESC,
  billing_npi NULLS LAST;

-- summary_by_month
SELECT
  month,
  CAST(SUM(lines) AS BIGINT) AS lines,
  CAST(SUM(paid) AS DECIMAL(18, 2)) AS paid,
  CAST(SUM(lines_flagged) AS BIGINT) AS lines_flagged,
  CAST(SUM(dollars_at_risk) AS DECIMAL(18, 2)) AS dollars_at_risk
FROM audited
GROUP BY
  month
ORDER BY
  month NULLS LAST;

-- totals
SELECT
  (
    SELECT
      COUNT(*)
    FROM claims_source
  ) AS lines_read,
  (
    SELECT
      COUNT(*)
    FROM rejected
  ) AS lines_rejected,
  (
    SELECT
      COALESCE(CAST(SUM(lines) AS BIGINT), 0)
    FROM audited
  ) AS lines_in_scope,
  (
    SELECT
      COALESCE(CAST(SUM(lines_flagged) AS BIGINT), 0)
    FROM audited
  ) AS lines_flagged,
  (
    SELECT
      COUNT(*)
    FROM flags
  ) AS flags,
  (
    SELECT
      CAST(SUM(paid) AS DECIMAL(18, 2))
    FROM audited
  ) AS paid,
  (
    SELECT
      CAST(SUM(dollars_at_risk) AS DECIMAL(18, 2))
    FROM audited
  ) AS dollars_at_risk;

