"""A fast GGUF header reader: metadata and tensor infos, never the weights or the vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from gguf import (
    GGML_QUANT_SIZES,
    GGMLQuantizationType,
    GGUFReader,
    GGUFValueType,
    ReaderField,
)


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header declares it (no data is touched)."""

    name: str
    type_name: str
    n_elements: int
    n_bytes: int
    end: int  # absolute file offset where its data ends
    shape: tuple[int, ...] = ()  # ggml order: ne[0] (the input dimension) first


BIG_ARRAY = 64  # longer metadata arrays (the vocabulary) are skipped, only their length kept


class HeaderReader(GGUFReader):
    """GGUFReader that records tensor infos instead of building numpy views of the data.

    The parent maps every tensor's data; with a header-only stub (or a download cut
    short) that fails. Sizes come from the declared shape and type instead. Long
    arrays (tokens, merges: ~10^5 strings) are stepped over instead of parsed, which
    makes reading a header ~50x faster; their contents read as [].
    """

    tensor_infos: list[TensorInfo]

    def _get_field_parts(
        self, orig_offs: int, raw_type: int,
    ) -> tuple[int, list[npt.NDArray[Any]], list[int], list[GGUFValueType]]:
        if raw_type != GGUFValueType.ARRAY or self.byte_order == "S":
            return super()._get_field_parts(orig_offs, raw_type)
        raw_itype = self._get(orig_offs, np.uint32)
        alen = self._get(orig_offs + 4, np.uint64)
        itype = GGUFValueType(int(raw_itype[0]))
        count = int(alen[0])
        if count <= BIG_ARRAY or itype == GGUFValueType.ARRAY:
            return super()._get_field_parts(orig_offs, raw_type)
        offs = orig_offs + 12
        if itype == GGUFValueType.STRING:
            view = self.data.data  # the memmap as a memoryview: cheap slices
            for _ in range(count):
                offs += 8 + int.from_bytes(view[offs:offs + 8], "little")
        else:
            offs += count * np.dtype(self.gguf_scalar_to_np[itype]).itemsize
        return offs - orig_offs, [raw_itype, alen], [], [GGUFValueType.ARRAY, itype]

    def _build_tensors(self, start_offs: int, fields: list[ReaderField]) -> None:
        infos = []
        for field in fields:
            _name_len, name_data, _n_dims, dims, raw_dtype, offset_tensor = field.parts
            qtype = GGMLQuantizationType(int(raw_dtype[0]))
            block_size, type_size = GGML_QUANT_SIZES[qtype]
            n_elements = int(np.prod(dims.astype(np.int64)))
            n_bytes = n_elements * type_size // block_size
            start = int(start_offs + int(offset_tensor[0]))
            infos.append(
                TensorInfo(bytes(name_data).decode("utf-8"), qtype.name, n_elements, n_bytes,
                           start + n_bytes, tuple(int(d) for d in dims))
            )
        self.tensor_infos = infos
        self.tensors = []
