// The EHR side of a DTR launch, for the test: a SMART-client-shaped object that answers the
// Questionnaire's x-fhir-query variables from a record (a list of resources), and the launch
// context (the patient). window.renderForm(questionnaire, record, patientId) renders and
// prepopulates; window.formResponse() returns the QuestionnaireResponse LHC-Forms builds.

function searchRecord(record, url) {
  const [type, query] = url.split('?');
  const params = new URLSearchParams(query || '');
  let found = record.filter((r) => r.resourceType === type);
  const patient = params.get('patient') || params.get('subject');
  if (patient) {
    found = found.filter((r) => (r.subject && r.subject.reference || '').endsWith('Patient/' + patient));
  }
  const code = params.get('code');
  if (code) {
    const wanted = code.split(',').map((c) => c.split('|'));
    found = found.filter((r) => ((r.code && r.code.coding) || []).some(
      (c) => wanted.some(([s, k]) => c.system === s && c.code === k)));
  }
  const status = params.get('clinical-status');
  if (status) {
    found = found.filter((r) => ((r.clinicalStatus && r.clinicalStatus.coding) || []).some((c) => c.code === status));
  }
  if (params.get('_sort') === '-date') {
    const when = (r) => r.effectiveDateTime || r.issued || '';
    found = [...found].sort((a, b) => (when(a) < when(b) ? 1 : -1));
  }
  if (params.get('_count')) found = found.slice(0, Number(params.get('_count')));
  return { resourceType: 'Bundle', type: 'searchset', total: found.length,
           entry: found.map((resource) => ({ resource })) };
}

window.requests = [];
window.renderForm = async function (questionnaire, record, patientId) {
  const patient = record.find((r) => r.resourceType === 'Patient' && r.id === patientId);
  const client = {
    getFhirVersion: () => Promise.resolve('4.0.1'),
    request: (url) => { window.requests.push(url); return Promise.resolve(searchRecord(record, url.replace(/[?&]_format=json/, ''))); },
    patient: { id: patientId, read: () => Promise.resolve(patient) },
  };
  if (patientId) LForms.Util.setFHIRContext(client, { patient });
  await LForms.Util.addFormToPage(questionnaire, 'formContainer', { prepopulate: !!patientId, fhirVersion: 'R4' });
  return true;
};
window.formResponse = function () {
  return LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4', document.getElementById('formContainer'));
};
