"""Special operations of Data Prep (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions):
uuid/guid.
"""

from __future__ import annotations

import pyarrow as pa


def fn_uuid(ctx):
    return str(ctx.new_uuid())


def vec_uuid(ctx, n):
    return pa.array([str(ctx.new_uuid()) for _ in range(n)], type=pa.string())
