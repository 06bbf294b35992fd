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


# --- reranking (Bedrock Rerank) ------------------------------------------------------------
RERANK_MODEL_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/${RerankModelId}"
}


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=CloudFormationLoader)


def _statements(policies: list) -> list[tuple[str | None, dict]]:
    """(the condition it is granted under, or None) and each statement of ``Policies``."""
    found = []
    for policy in policies:
        condition = None
        if isinstance(policy, dict) and "Fn::If" in policy:
            condition, policy, _ = policy["Fn::If"]
        if isinstance(policy, dict):
            found += [(condition, statement) for statement in policy.get("Statement", [])]
    return found


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_reranking_parameters_default_to_off_and_amazon_rerank(template):
    parameters = template["Parameters"]
    # Quoted in the template: a bare off is YAML 1.1's false.
    assert parameters["Reranker"]["Default"] == "off"
    assert parameters["Reranker"]["AllowedValues"] == ["off", "bedrock"]
    assert parameters["RerankModelId"]["Default"] == "amazon.rerank-v1:0"
    assert parameters["RerankModelId"]["AllowedPattern"] == "^[a-z0-9][a-z0-9.:-]*$"
    assert template["Conditions"]["UsesBedrockReranker"] == {
        "Fn::Equals": [{"Ref": "Reranker"}, "bedrock"]
    }


def test_the_api_function_gets_the_reranker_settings(template):
    resources = template["Resources"]
    variables = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["RAGOPS_RERANKER"] == {"Ref": "Reranker"}
    assert variables["RAGOPS_BEDROCK_RERANK_MODEL_ID"] == {"Ref": "RerankModelId"}
    globals_ = template["Globals"]["Function"]["Environment"]["Variables"]
    assert "RAGOPS_RERANKER" not in globals_  # the other functions never answer


def test_only_the_api_function_may_rerank_and_only_when_reranking_is_on(template):
    functions = of_type(template["Resources"], "AWS::Serverless::Function")
    granted = {
        name: [
            (condition, statement)
            for condition, statement in _statements(function["Properties"]["Policies"])
            if "bedrock:Rerank" in _actions(statement)
            or statement.get("Resource") == RERANK_MODEL_ARN
        ]
        for name, function in functions.items()
    }
    assert granted["IngestFunction"] == granted["ScalerFunction"] == []
    by_sid = {statement["Sid"]: (c, statement) for c, statement in granted["ApiFunction"]}
    assert set(by_sid) == {"BedrockRerank", "BedrockRerankModel"}
    # Rerank has no resource type (IAM takes only "*"), so its statement grants nothing else;
    # InvokeModel is on the one reranker model, in the stack's Region.
    assert by_sid["BedrockRerank"] == (
        "UsesBedrockReranker",
        {"Sid": "BedrockRerank", "Effect": "Allow", "Action": "bedrock:Rerank", "Resource": "*"},
    )
    assert by_sid["BedrockRerankModel"] == (
        "UsesBedrockReranker",
        {
            "Sid": "BedrockRerankModel",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": RERANK_MODEL_ARN,
        },
    )
