from recurrentgpt.parsing import CHOICE, STEP, STORY_START, parse_choice, parse_sections


def test_plain_labels_with_text_on_the_same_or_next_lines():
    reply = "Paragraph: It rained.\nThen it stopped.\nMemory:\nAnna lost the key.\nPlan 1: a\nPlan 2: b\nPlan 3: c"
    sections = parse_sections(reply)
    assert sections["Paragraph"] == "It rained.\nThen it stopped."
    assert sections["Memory"] == "Anna lost the key."
    assert sections.missing(STEP) == []


def test_decorated_and_differently_cased_labels_are_recognised():
    reply = "Sure, here you go.\n**Paragraph:**\nIt rained.\n## MEMORY\nKey lost.\n- **plan 1**: north\n### Plan 2\nsouth\n*Plan 3:* stay"
    sections = parse_sections(reply)
    assert sections.found == {"Paragraph": "It rained.", "Memory": "Key lost.", "Plan 1": "north",
                              "Plan 2": "south", "Plan 3": "stay"}


def test_prose_with_a_colon_does_not_cut_a_section():
    sections = parse_sections("Paragraph: She said: no. He replied: Yes: maybe.\nMemory: m\nPlan 1: a\nPlan 2: b\nPlan 3: c")
    assert sections["Paragraph"] == "She said: no. He replied: Yes: maybe."


def test_unknown_decorated_labels_end_a_section_and_are_ignored():
    sections = parse_sections("Paragraph: text\n**Notes:** my reasoning\nMemory: m")
    assert sections["Paragraph"] == "text"
    assert "Notes" not in sections.found
    assert sections["Memory"] == "m"


def test_missing_and_empty_sections_are_reported():
    sections = parse_sections("Paragraph: text\nMemory:\nPlan 1: a")
    assert sections.missing(STEP) == ["Memory", "Plan 2", "Plan 3"]


def test_story_start_labels_and_chinese_text():
    reply = "Title: 海上的门\nOutline: 一、守塔人。\nParagraph: 她爬上灯塔。\nMemory: 风暴将至。\nPlan 1: 甲\nPlan 2: 乙\nPlan 3: 丙"
    sections = parse_sections(reply)
    assert sections.missing(STORY_START) == []
    assert sections["Title"] == "海上的门"


def test_choice():
    assert parse_choice(parse_sections("Choice: 2\nRevised plan: better")) == 2
    assert parse_choice(parse_sections("**Choice:** Plan 3")) == 3
    assert parse_choice(parse_sections("Choice: none")) is None
    assert parse_sections("Choice: 1").missing(CHOICE) == []
