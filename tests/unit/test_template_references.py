"""``template.yaml`` points at things that exist: every function's ``CodeUri`` folder and
``Handler`` function, every layer it lists, and every layer's build target."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


class CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags: ``!Ref X`` becomes ``{"Ref": "X"}``."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    key = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {key: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {key: loader.construct_sequence(node, deep=True)}
    return {key: loader.construct_mapping(node, deep=True)}


CloudFormationLoader.add_multi_constructor("!", _construct_tag)


@pytest.fixture(scope="module")
def resources() -> dict:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CloudFormationLoader)
    return template["Resources"]


def of_type(resources: dict, kind: str) -> dict:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def test_the_template_declares_the_three_functions(resources):
    functions = of_type(resources, "AWS::Serverless::Function")
    assert set(functions) == {"ApiFunction", "IngestFunction", "ScalerFunction"}


def test_every_function_handler_exists(resources):
    for name, function in of_type(resources, "AWS::Serverless::Function").items():
        props = function["Properties"]
        code = ROOT / props["CodeUri"]
        module, attribute = props["Handler"].rsplit(".", 1)
        source = code / (module.replace(".", "/") + ".py")
        assert source.is_file(), f"{name}: {source} missing"
        defined = {
            node.name
            for node in ast.parse(source.read_text()).body
            if isinstance(node, ast.FunctionDef)
        }
        assert attribute in defined, f"{name}: {source} defines no {attribute}()"


def test_every_layer_a_function_lists_is_declared_and_buildable(resources):
    layers = of_type(resources, "AWS::Serverless::LayerVersion")
    for name, function in of_type(resources, "AWS::Serverless::Function").items():
        listed = [ref["Ref"] for ref in function["Properties"]["Layers"]]
        assert "CoreLayer" in listed, f"{name} lacks the core layer"
        for layer in listed:
            assert layer in layers, f"{name} lists undeclared layer {layer}"
    for name, layer in layers.items():
        content = ROOT / layer["Properties"]["ContentUri"]
        assert content.is_dir(), f"{name}: {content} missing"
        assert layer["Metadata"]["BuildMethod"] == "makefile"
        makefile = (content / "Makefile").read_text()
        assert re.search(rf"^build-{name}:", makefile, re.MULTILINE), f"no build-{name} target"
        # Every requirements file a target installs exists.
        target = makefile.split(f"build-{name}:", 1)[1].split("\nbuild-", 1)[0]
        for requirements in re.findall(r"-r (\S+)", target):
            assert (content / requirements).is_file(), f"{name}: {requirements} missing"


def test_the_api_function_does_not_carry_the_ingest_dependencies(resources):
    listed = [ref["Ref"] for ref in resources["ApiFunction"]["Properties"]["Layers"]]
    assert listed == ["CoreLayer", "ApiDepsLayer"]
    requirements = (ROOT / "layers/api-deps/requirements.txt").read_text().lower()
    for heavy in ("numpy", "langchain", "torch", "chromadb", "llama"):
        assert heavy not in re.sub(r"#.*", "", requirements), heavy
