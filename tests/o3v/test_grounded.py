"""The grounded-text parser: literal cases, hostile input, and parse(render(x)) == x."""

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o3v.grounded import (
    Claim,
    Grounded,
    format_number,
    map_boxes,
    parse,
    parse_claims,
    render,
    render_claim,
    render_completion,
    render_option,
    render_span,
)

REFERENCE = (
    "<think>The <obj>red circle</obj><box>[10,20,30,40]</box>at<t>2.5</t>s moves right; later the "
    "<obj>blue square</obj><box>[1,2,3,4]</box><box>[5,6,7,8]</box>at<t>4</t>s appears at <t>4.5</t>s.</think>\n"
    "<answer>From <t>2.5</t>s to <t>6</t>s.\nCorrect Option: B</answer>"
)


def test_reference_completion():
    g = parse(REFERENCE)
    assert g.claims == (
        Claim("red circle", ((10, 20, 30, 40),), 2.5),
        Claim("blue square", ((1, 2, 3, 4), (5, 6, 7, 8)), 4.0),
    )
    assert g.answer_span == (2.5, 6.0)
    assert g.option == "B"
    assert g.think_times == (2.5, 4.0, 4.5)


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("<answer>B</answer>", "option", "B"),
        ("<answer>(C)</answer>", "option", "C"),
        ("<answer>D.</answer>", "option", "D"),
        ("<answer>The answer is B because</answer>", "option", None),
        ("<answer>From <t>1</t>s to <t>3.5</t>s</answer>", "answer_span", (1.0, 3.5)),
        (
            "<answer>From <t>5</t>s to <t>3</t>s</answer>",
            "answer_span",
            (5.0, 3.0),
        ),  # kept as written; IoU scores it 0
        ("<answer>from 1s to 3s</answer>", "answer_span", None),
        ("<think>no close", "think", None),
        ("<answer>  padded  </answer>", "answer", "padded"),
        ("", "claims", ()),
        ("<think><obj>x</obj><box>[nan,1,2,3]</box>at<t>1</t>s</think>", "claims", ()),
        ("<think><obj>x</obj><box>[NaN,1,2,3]</box>at<t>1</t>s</think>", "claims", ()),
        ("<think><obj>x</obj><box>[1,2,3]</box>at<t>1</t>s</think>", "claims", ()),
        ("<think><obj>x</obj><box>[1,2,3,4]</box> at <t>1</t>s</think>", "claims", ()),  # upstream needs no spaces
        ("<think><obj>x</obj><box>[1,2,3,4]</box>at<t>abc</t>s</think>", "claims", ()),
        ("<think><obj>x</obj><box>[1,2,3,4]</box><box>[1,2]</box>at<t>1</t>s</think>", "claims", ()),
        (
            "<think><obj><obj>x</obj><box>[1,2,3,4]</box>at<t>1</t>s</think>",
            "claims",
            (Claim("x", ((1, 2, 3, 4),), 1.0),),
        ),
    ],
)
def test_parse_table(text, field, expected):
    assert getattr(parse(text), field) == expected


def test_answer_boxes_for_visual_qa():
    g = parse("<think>x</think><answer><obj>cat</obj><box>[1,2,3,4]</box></answer>")
    assert g.answer_boxes == ((1, 2, 3, 4),)


@settings(max_examples=300)
@given(st.text())
def test_parse_never_raises_on_text(text):
    g = parse(text)
    json.dumps(g.to_json(), allow_nan=False)


@settings(max_examples=200)
@given(
    st.lists(
        st.sampled_from(
            [
                "<think>",
                "</think>",
                "<answer>",
                "</answer>",
                "<obj>",
                "</obj>",
                "<box>",
                "</box>",
                "<t>",
                "</t>",
                "s",
                "at",
                "[1,2,3,4]",
                "[",
                "]",
                "NaN",
                "1e999",
                "x",
                "\n",
                " to ",
            ]
        )
    )
)
def test_parse_never_raises_on_tag_soup(parts):
    json.dumps(parse("".join(parts)).to_json(), allow_nan=False)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "text",
    [
        "<obj>" * 2_000_000,
        "</obj><box>" * 1_000_000,
        "<think>" + "<obj>a</obj><box>[1,2,3,4]</box>at<t>" * 200_000 + "</think>",
        "<answer>From <t>" + "1" * 5_000_000 + "</answer>",
        "<t>" + "9" * 10_000_000,
    ],
    ids=["many-obj", "many-unclosed-boxes", "many-unclosed-times", "long-number", "10MB-digits"],
)
def test_parse_is_linear_on_adversarial_input(text):
    json.dumps(parse(text).to_json(), allow_nan=False)


_name = (
    st.text(st.characters(blacklist_characters="<>", blacklist_categories=("Cs",)), min_size=1, max_size=12)
    .map(str.strip)
    .filter(bool)
)
_num = st.one_of(st.integers(0, 5000).map(float), st.integers(0, 10**6).map(lambda v: v / 1000))
_box = st.tuples(_num, _num, _num, _num)
_claim = st.builds(Claim, _name, st.lists(_box, min_size=1, max_size=3).map(tuple), _num)
_plain = st.text(st.characters(blacklist_characters="<>[]", blacklist_categories=("Cs",)), max_size=20)


@st.composite
def grounded(draw):
    claims = draw(st.lists(_claim, max_size=4))
    think = "".join(draw(_plain) + render_claim(c) for c in claims) + draw(_plain)
    kind = draw(st.sampled_from(["span", "option", "span_option", "text"]))
    span = (draw(_num), draw(_num))
    letter = draw(st.sampled_from("ABCDEFGHIJ"))
    answer = {
        "span": render_span(*span),
        "option": render_option(letter),
        "span_option": render_option(letter, span),
        "text": "a plain answer",
    }[kind]
    return Grounded(
        think=think,
        answer=answer,
        claims=tuple(claims),
        answer_span=span if kind in ("span", "span_option") else None,
        option=letter if kind in ("option", "span_option") else None,
    )


@settings(max_examples=300)
@given(grounded())
def test_parse_render_round_trip(g):
    assert parse(render(g)) == g


def test_render_completion_shape():
    assert render_completion("a", "b") == "<think>a</think>\n<answer>b</answer>"
    assert format_number(3.0) == "3" and format_number(12.5) == "12.5"


def test_map_boxes_rewrites_only_valid_boxes():
    text = "<box>[0.1,0.2,0.3,0.4]</box> and <box>[bad]</box>"
    out = map_boxes(text, lambda b: [v * 10 for v in b])
    assert out == "<box>[1,2,3,4]</box> and <box>[bad]</box>"
    assert parse_claims("<obj>a</obj>" + out.split(" ")[0] + "at<t>1</t>s")[0].boxes == ((1, 2, 3, 4),)


def _cli(data: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "o3v.cli", "parse"], input=data, capture_output=True, timeout=120)


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 64,
        b"<think><obj>a</obj><box>[NaN, 1, 2, 3]</box>at<t>1</t>s",
        b"<answer>From <t>1</t>s to <t>2</t>s",
        REFERENCE.encode(),
        ("<obj>" * 2_000_000).encode(),  # 10 MB
    ],
    ids=["random-bytes", "nan-box", "unbalanced", "reference", "10MB"],
)
def test_cli_parse_hostile_input(data):
    proc = _cli(data)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"think", "answer", "claims", "answer_span", "option"}


def test_cli_contract_values():
    out = json.loads(_cli(REFERENCE.encode()).stdout)
    assert out["claims"][1] == {"object": "blue square", "boxes": [[1, 2, 3, 4], [5, 6, 7, 8]], "time": 4.0}
    assert out["answer_span"] == [2.5, 6.0] and out["option"] == "B"
