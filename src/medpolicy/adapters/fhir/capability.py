"""The server's CapabilityStatement: what a FHIR client can call, and under which guides, each at
the version it meets (Da Vinci PAS and DTR 2.0.1; CRD 2.0.1 is declared in CDS Hooks discovery,
CRD being CDS Hooks rather than FHIR REST)."""

from __future__ import annotations

from datetime import date
from typing import Any

__all__ = ["DTR_VERSION", "PAS_VERSION", "capability_statement"]

PAS_VERSION = "2.0.1"
DTR_VERSION = "2.0.1"
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
            f"{_PAS}/ImplementationGuide/hl7.fhir.us.davinci-pas|{PAS_VERSION}",
            f"{_DTR}/ImplementationGuide/hl7.fhir.us.davinci-dtr|{DTR_VERSION}",
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
