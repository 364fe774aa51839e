"""XDM for AEP Local: the vendored adobe/xdm library in AEP form, resolution, composition, flattening, validation.

Public API:

* library (:mod:`.library`): :func:`list_resources`, :func:`get_resource`, :func:`global_lookup`, :func:`is_global`,
  :func:`alt_id`, :func:`id_from_alt`, :func:`aep_name`, :func:`to_aep`, :func:`to_aep_instance`,
  :func:`get_library` (``.registry()`` gives a ``referencing.Registry`` of the source-form files), ``XDM_VERSION``;
* composition (:mod:`.compose`): :func:`resolve`, :func:`compose_schema`, :func:`flatten` (→ :class:`FlatField`),
  :func:`find_path`, :func:`split_path`, :func:`coerce_record`, :func:`coerce_value`, :func:`ancestors`,
  :func:`check_namespace`, :func:`strip_text`, errors :class:`XDMError` (``code``/``title``/``message``/``status``)
  and its subclasses :class:`UnknownRefError`, :class:`NoClassError`, :class:`MergeError`, :class:`NamespaceError`;
* validation (:mod:`.validate`, loaded on first use): :class:`RecordValidator` (``errors``, ``is_valid``,
  ``validate_records``, ``validate_columns``), :class:`ColumnValidator`, :func:`validate_columns`,
  :func:`records_to_columns`, the error codes (``INGEST-1401-400`` ...);
"""

from .compose import (CoercionError, FlatField, MergeError, NamespaceError, NoClassError, UnknownRefError, XDMError,
                      ancestors, check_namespace, coerce_record, coerce_value, compose_schema, find_path, flatten,
                      resolve, split_path, strip_text)
from .library import (XDM_COMMIT, XDM_VERSION, aep_name, alt_id, get_library, get_resource, global_lookup,
                      id_from_alt, is_global, list_resources, to_aep, to_aep_instance)

_VALIDATE = ("RecordValidator", "ColumnValidator", "validate_columns", "records_to_columns", "check_format")

__all__ = [
    "XDM_COMMIT", "XDM_VERSION", "alt_id", "aep_name", "get_resource", "global_lookup", "id_from_alt", "is_global",
    "get_library", "list_resources", "to_aep", "to_aep_instance",
    "CoercionError", "FlatField", "MergeError", "NamespaceError", "NoClassError", "UnknownRefError", "XDMError",
    "ancestors", "check_namespace", "coerce_record", "coerce_value", "compose_schema", "find_path", "flatten",
    "resolve", "split_path", "strip_text", *_VALIDATE,
]


def __getattr__(name: str):
    if name in _VALIDATE:
        from . import validate

        return getattr(validate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
