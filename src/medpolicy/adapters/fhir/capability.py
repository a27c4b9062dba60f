"""The server's CapabilityStatement: what a FHIR client can call, and under which guides."""

from __future__ import annotations

from datetime import date
from typing import Any

__all__ = ["capability_statement"]

_PAS = "http://hl7.org/fhir/us/davinci-pas"
_DTR = "http://hl7.org/fhir/us/davinci-dtr"


def capability_statement(version: str, base_url: str, today: date) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "id": "medpolicy",
        "status": "active",
        "date": today.isoformat(),
        "kind": "instance",
        "software": {"name": "medpolicy", "version": version},
        "implementation": {
            "description": "Executable coverage guidelines: Da Vinci PAS, DTR "
            "and CRD over the medpolicy engine",
            "url": base_url,
        },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "implementationGuide": [
            f"{_PAS}/ImplementationGuide/hl7.fhir.us.davinci-pas",
            f"{_DTR}/ImplementationGuide/hl7.fhir.us.davinci-dtr",
            "http://hl7.org/fhir/us/mcode/ImplementationGuide/hl7.fhir.us.mcode",
        ],
        "rest": [
            {
                "mode": "server",
                "documentation": "Send Authorization: Bearer <token>. CDS Hooks (CRD) services are "
                "listed at GET /cds-services.",
                "resource": [
                    {
                        "type": "Claim",
                        "operation": [
                            {
                                "name": "submit",
                                "definition": f"{_PAS}/OperationDefinition/Claim-submit",
                            },
                            {
                                "name": "inquire",
                                "definition": f"{_PAS}/OperationDefinition/Claim-inquiry",
                            },
                        ],
                    },
                    {
                        "type": "Questionnaire",
                        "interaction": [{"code": "read"}],
                        "operation": [
                            {
                                "name": "questionnaire-package",
                                "definition": f"{_DTR}/OperationDefinition/questionnaire-package",
                            }
                        ],
                    },
                ],
            }
        ],
    }
