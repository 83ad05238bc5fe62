"""The commands that ship a trained model: quantize (int8 for PyTorch), export-onnx (for onnxruntime)."""
from __future__ import annotations

from pathlib import Path

from minidistil.cli.output import check_output_folder, table


def add_commands(subparsers) -> None:
    add_quantize(subparsers)
    add_export_onnx(subparsers)


def folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.glob("*.safetensors"))


def add_quantize(subparsers) -> None:
    p = subparsers.add_parser("quantize", help="write an int8 copy of a model folder (CPU inference)",
                              description="Dynamic int8 quantization of every Linear layer (and of the token "
                                          "embedding unless --no-int8-embeddings); LayerNorm, GELU and softmax "
                                          "stay float. from_pretrained and every pipeline load the result.")
    p.add_argument("--model", required=True, help="a float model folder (written by save_pretrained or finetune)")
    p.add_argument("--out", required=True, help="the folder for the int8 model and its tokenizer files")
    p.add_argument("--int8-embeddings", action="store_true", default=True, help="store the token table "
                   "as int8 (default: on; it is most of a small model's file)")
    p.add_argument("--no-int8-embeddings", dest="int8_embeddings", action="store_false",
                   help="keep the token table float (a larger file, one rounding fewer)")
    p.set_defaults(func=run_quantize)


def run_quantize(args) -> None:
    from minidistil.apps.convert import model_class
    from minidistil.apps.quantize import quantize
    from minidistil.tokenizer import copy_tokenizer_files
    model_dir, out = Path(args.model), Path(args.out)
    if not (model_dir / "config.json").is_file():
        raise ValueError(f"--model {model_dir} is not a model folder (no config.json); pass a folder written "
                         f"by save_pretrained or finetune")
    if out.resolve() == model_dir.resolve():
        raise ValueError("--out must differ from --model: the float model would be overwritten")
    check_output_folder(out)
    cls, _ = model_class(model_dir)
    quantize(cls.from_pretrained(model_dir), args.int8_embeddings).save_pretrained(out)  # refuses an int8 model
    copy_tokenizer_files(model_dir, out)
    before, after = folder_size(model_dir), folder_size(out)
    print(table({"model": out, "float weights (MB)": f"{before / 1e6:.1f}", "int8 weights (MB)": f"{after / 1e6:.1f}",
                 "ratio": f"{after / max(before, 1):.2f}x"}))


def add_export_onnx(subparsers) -> None:
    p = subparsers.add_parser("export-onnx", help="export a model folder to one ONNX file",
                              description="Export any head to ONNX (opset 17) with dynamic batch and sequence "
                                          "axes; inputs input_ids and attention_mask. Needs the optional extra: "
                                          "pip install 'minidistil[onnx]'.")
    p.add_argument("--model", required=True, help="a float model folder (written by save_pretrained or finetune)")
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.add_argument("--opset", type=int, default=17, help="the ONNX opset (default: 17)")
    p.set_defaults(func=run_export_onnx)


def run_export_onnx(args) -> None:
    from minidistil.apps.onnx_export import export_folder
    check_output_folder(Path(args.out).parent)
    try:
        path = export_folder(args.model, args.out, args.opset)
    except ImportError as e:  # onnx is an optional extra: one line, not a traceback
        raise ValueError(str(e)) from None
    print(table({"onnx": path, "size (MB)": f"{path.stat().st_size / 1e6:.1f}"}))
