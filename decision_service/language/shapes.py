"""Cerberus schemas of the documents process owners write.

Cerberus checks the *shape* of policy, org and case files (unknown keys, types,
allowed words) and we turn each of its errors into ``file:line:col``. It is not
used on decision inputs: it would cost far more than the decision itself;
inputs go through the pydantic models of ``inputs.py`` instead (bench/engine.py).
"""

from __future__ import annotations

from typing import Any

from decision_service.language.model import HIT_POLICIES

TEXT: dict[str, Any] = {
    "type": "dict",
    "schema": {
        "zh": {"type": "string", "required": True, "empty": False},
        "en": {"type": "string", "required": True, "empty": False},
    },
}
NAME: dict[str, Any] = {"type": "string", "regex": r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?"}
CODE_LIST: dict[str, Any] = {"type": "list", "schema": {"type": "string", "empty": False}}
SCALAR_TYPES = ["string", "number", "boolean"]
UNARY_TESTS: dict[str, Any] = {
    "type": "dict",
    "keysrules": NAME,
    "valuesrules": {"type": SCALAR_TYPES, "nullable": False},
}
# How reasons write a value: 2,500万美元 / USD 25M, 31%, 90天 / 90 days.
MEASURE: dict[str, Any] = {"type": "string", "allowed": ["usd", "percent", "days"]}
BOUND: dict[str, Any] = {"type": ["number", "string"]}

INPUT: dict[str, Any] = {
    "type": "dict",
    "schema": {
        "type": {
            "type": "string",
            "required": True,
            "allowed": ["string", "enum", "number", "integer", "boolean", "date", "list", "unit"],
        },
        "values": CODE_LIST,
        "ordering": {"type": "string"},
        "level": {"type": "string", "allowed": ["office", "region"]},
        "required": {"type": "boolean"},
        "optional_when": UNARY_TESTS,
        "min": BOUND,
        "max": BOUND,
        "exclusive_min": {"type": "boolean"},
        "default": {"type": ["string", "number", "boolean", "list"], "nullable": True},
        "description": TEXT,
        "label": TEXT,
        "measure": MEASURE,
    },
}

PARAMETER: dict[str, Any] = {
    "type": "dict",
    "schema": {
        "type": {"type": "string", "required": True, "allowed": ["number", "integer", "enum"]},
        "ordering": {"type": "string"},
        "default": {"type": ["number", "string"], "required": True},
        "description": TEXT,
        "measure": MEASURE,
    },
}

OUTPUT_VALUE: dict[str, Any] = {
    "type": ["string", "number", "boolean", "dict", "list"],
    "nullable": True,
}

OUTPUT: dict[str, Any] = {
    "type": "dict",
    "schema": {
        "type": {
            "type": "string",
            "required": True,
            "allowed": ["enum", "string", "number", "integer", "boolean", "list"],
        },
        "ordering": {"type": "string"},
        "values": CODE_LIST,
        "combine": {"type": "string", "allowed": ["set", "max"]},
        "default": {"type": ["string", "number", "boolean"], "nullable": True},
        "lookup": NAME,
        "map": {"type": "dict", "valuesrules": OUTPUT_VALUE},
        "description": TEXT,
    },
}

RULE_ID: dict[str, Any] = {"type": "string", "regex": r"[A-Za-z0-9_.\-]+"}
RULE: dict[str, Any] = {
    "type": "dict",
    "schema": {
        # Required: reasons, cases, the log and the CRM's texts name rules by id,
        # so an id must not change when a rule is inserted before it.
        "id": {**RULE_ID, "required": True},
        "when": UNARY_TESTS,
        "then": OUTPUT_VALUE,
        "score": {"type": "number"},
        "message": TEXT,
    },
}

TABLE: dict[str, Any] = {
    "type": "dict",
    "schema": {
        "id": {"type": "string", "required": True, "regex": r"[A-Za-z0-9_.\-]+"},
        "title": {**TEXT, "required": True},
        "hit": {"type": "string", "required": True, "allowed": list(HIT_POLICIES)},
        "outputs": {"type": "list", "required": True, "minlength": 1, "schema": NAME},
        "when": UNARY_TESTS,
        "final": {"type": "boolean"},
        "override": {"type": "boolean"},
        "monotonic": {
            "type": "dict",
            "keysrules": NAME,
            "valuesrules": {"type": "string", "allowed": ["increasing", "decreasing"]},
        },
        "bands": {
            "type": "dict",
            "schema": {
                "output": {"type": "string", "required": True},
                "at_least": {
                    "type": "list",
                    "required": True,
                    "schema": {"type": "list", "items": [{"type": "number"}, {"type": "string"}]},
                },
                "else": {"type": "string", "required": True},
            },
        },
        "rules": {"type": "list", "required": True, "minlength": 1, "schema": RULE},
    },
}

# `orderings:` declares how parameters must rank for every unit after its
# settings, e.g. value limits rise from SYSTEM_DEPT to BG, margin floors fall.
ORDERINGS: dict[str, Any] = {
    "type": "list",
    "schema": {
        "type": "dict",
        "schema": {
            "rising": {"type": "list", "minlength": 2, "schema": NAME,
                       "excludes": "falling", "required": True},
            "falling": {"type": "list", "minlength": 2, "schema": NAME,
                        "excludes": "rising", "required": True},
            "strict": {"type": "boolean"},
            "note": TEXT,
        },
    },
}

POLICY_META: dict[str, Any] = {
    "type": "dict",
    "required": True,
    "schema": {
        "id": {"type": "string", "required": True, "regex": r"[a-z][a-z0-9-]*"},
        "version": {"type": "string", "required": True, "empty": False},
        "extends": {"type": "string"},
        "title": TEXT,
        "owner": {"type": "string"},
        "effective_from": {"type": "date", "nullable": True},
        "effective_to": {"type": "date", "nullable": True},
        "decision_date": NAME,
        "unit": NAME,
    },
}

POLICY: dict[str, Any] = {
    "policy": POLICY_META,
    "inputs": {"type": "dict", "keysrules": NAME, "valuesrules": INPUT},
    "parameters": {"type": "dict", "keysrules": NAME, "valuesrules": PARAMETER},
    "settings": {
        "type": "list",
        "schema": {
            "type": "dict",
            "schema": {
                "units": {**CODE_LIST, "required": True, "minlength": 1},
                "set": {"type": "dict", "required": True, "keysrules": NAME},
                "note": TEXT,
            },
        },
    },
    "derived": {
        "type": "dict",
        "keysrules": NAME,
        "valuesrules": {
            "type": "dict",
            "schema": {"sum": {"type": "list", "required": True, "minlength": 1, "schema": NAME},
                       "label": TEXT, "measure": MEASURE},
        },
    },
    "history": {
        "type": "dict",
        "keysrules": NAME,
        "valuesrules": {
            "type": "dict",
            "schema": {
                "sum": {**NAME, "required": True},
                "group_by": {"type": "list", "required": True, "schema": NAME},
                "where_input": {**UNARY_TESTS, "required": True},
                "where_output": {**UNARY_TESTS, "required": True},
                "window_days": {"type": "integer", "required": True, "min": 0},
                "latest_per": NAME,
                "label": TEXT,
            },
        },
    },
    "outputs": {"type": "dict", "keysrules": NAME, "valuesrules": OUTPUT},
    "tables": {"type": "list", "schema": TABLE},
    "orderings": ORDERINGS,
}


def _optional(schema: dict[str, Any]) -> dict[str, Any]:
    """The same shape with nothing required: a version writes only what changes."""
    return {key: {k: v for k, v in rule.items() if k != "required"}
            for key, rule in schema.items()}


PLACEMENT: dict[str, Any] = {
    "before": {"type": "string"},
    "after": {"type": "string", "excludes": "before"},
    "remove": {"type": "boolean"},
}
VERSION_RULE: dict[str, Any] = {
    "type": "dict",
    "schema": {**RULE["schema"], **PLACEMENT},
}
VERSION_TABLE: dict[str, Any] = {
    "type": "dict",
    "schema": {**_optional(TABLE["schema"]), "id": TABLE["schema"]["id"],
               "rules": {"type": "list", "minlength": 1, "schema": VERSION_RULE},
               **PLACEMENT},
}
VERSION_INPUT: dict[str, Any] = {"type": "dict", "schema": _optional(INPUT["schema"])}

# A later version (`extends:`) uses the sections of a full policy; what it
# writes adds or replaces by name, unit or id (see ``versions.py``). A bare
# number under `parameters` moves that parameter's default.
POLICY_VERSION: dict[str, Any] = {
    **POLICY,
    "parameters": {
        "type": "dict",
        "keysrules": NAME,
        "valuesrules": {"type": ["number", "string", "dict"]},
    },
    "inputs": {"type": "dict", "keysrules": NAME, "valuesrules": VERSION_INPUT},
    "tables": {"type": "list", "schema": VERSION_TABLE},
}
POLICY_EXTENSION = POLICY_VERSION

ORG: dict[str, Any] = {
    "org": {
        "type": "dict",
        "required": True,
        "schema": {
            "version": {"type": "string", "required": True},
            "levels": {**CODE_LIST, "required": True, "minlength": 1},
            "level_names": {"type": "dict", "valuesrules": TEXT},
            "grades": {**CODE_LIST, "required": True, "minlength": 1},
            "headquarters": {
                "type": "dict",
                "required": True,
                "schema": {"code": {"type": "string", "required": True}, "name": TEXT},
            },
            "business_groups": {
                "type": "list",
                "schema": {
                    "type": "dict",
                    "schema": {
                        "code": {"type": "string", "required": True},
                        "group": {"type": "string", "required": True},
                        "name": TEXT,
                    },
                },
            },
            "regions": {
                "type": "list",
                "required": True,
                "schema": {
                    "type": "dict",
                    "schema": {
                        "code": {"type": "string", "required": True},
                        "name": TEXT,
                        "offices": {
                            "type": "list",
                            "required": True,
                            "schema": {
                                "type": "dict",
                                "schema": {
                                    "code": {"type": "string", "required": True},
                                    "name": {
                                        "type": "dict",
                                        "schema": {
                                            "zh": {"type": "string"},
                                            "en": {"type": "string", "required": True},
                                        },
                                    },
                                    "watchlist": {"type": "boolean"},
                                },
                            },
                        },
                    },
                },
            },
        },
    }
}

CASES: dict[str, Any] = {
    "policy": {"type": "string", "required": True},
    # `base` is merged under every case's input, so each case shows only what it varies.
    "base": {"type": "dict"},
    "cases": {
        "type": "list",
        "required": True,
        "schema": {
            "type": "dict",
            "schema": {
                "name": {"type": "string", "required": True},
                "input": {"type": "dict", "required": True},
                "without": {"type": "list", "schema": {"type": "string"}},
                "expect": {"type": "dict"},
                "rules": {"type": "list", "schema": {"type": "string"}},
                "expect_error": {"type": "list", "schema": {"type": "string"}},
                "prior_total": {"type": "number"},
                "today": {"type": "date"},
            },
        },
    },
}

ROLLOUT: dict[str, Any] = {
    "activation": {
        "type": "list",
        "schema": {
            "type": "dict",
            "schema": {
                "policy": {"type": "string", "required": True, "empty": False},
                "version": {"type": "string", "required": True, "empty": False},
                "units": {**CODE_LIST, "required": True, "minlength": 1},
            },
        },
    },
    "shadow": {
        "type": "list",
        "schema": {
            "type": "dict",
            "schema": {
                "policy": {"type": "string", "required": True, "empty": False},
                "candidate": {
                    "type": "dict",
                    "required": True,
                    "minlength": 1,
                    "schema": {
                        "version": {"type": "string", "empty": False},
                        "policies": {"type": "string", "empty": False},
                    },
                },
            },
        },
    },
}
