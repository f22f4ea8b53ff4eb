"""Deployment helpers (ONNX export). Needs the optional ``onnx`` and
``onnxscript`` packages; checking needs ``onnxruntime``."""
from .onnx_export import TOWERS, check_onnx, export_onnx

__all__ = ['TOWERS', 'check_onnx', 'export_onnx']
