"""The prompts, in English and Chinese, as langchain-core templates.

Every prompt carries the outline: the story's spine stays in view at every
step, however long the novel grows. Section labels are the same in every
language (the output contract in DESIGN.md).
"""

from __future__ import annotations

from langchain_core.prompts import ChatPromptTemplate

from recurrentgpt.backends.base import ChatMessage

_EN_SYSTEM = (
    "You are a novelist writing a long {genre} novel one paragraph at a time, together with a human writer. "
    "You keep a short-term memory: a compact summary of what recently happened and what matters next. "
    "You write vivid, concrete prose that follows the plan you are given, stays consistent with the outline "
    "and the memories, and never ends the story early."
)
_ZH_SYSTEM = (
    "你是一位小说家，正在和一位人类作者合作，一段一段地写一部很长的{genre}小说。"
    "你维护一份短期记忆：对最近情节和接下来要点的简明总结。"
    "你的文字生动具体，遵循给你的计划，与大纲和记忆保持一致，绝不提前结束故事。"
)
_EN_FICTION = (
    "This is interactive fiction written for one reader, who is the protagonist. Narrate in the second person "
    "(\"you\"). Each plan is an action the reader can take next, phrased as an action (\"Open the door\", "
    "\"Ask the keeper about the bell\"). The reader describes themselves below; shape every scene for them "
    "and never include anything they ask to keep out.\n\nThe reader:\n{persona}"
)
_ZH_FICTION = (
    "这是为一位读者写的互动小说，读者就是主角。用第二人称（“你”）叙述。每个计划都是读者接下来可以采取的行动，"
    "用行动的形式表述。读者的自我描述如下；为他们塑造每个场景，绝不写入他们要求排除的内容。\n\n读者：\n{persona}"
)

# Added to the task in fiction mode: the plan is the reader's action, the
# plans are the reader's next choices, and the persona's limits hold.
_EN_FICTION_TASK = (
    "\n\nThis is interactive fiction for the reader described above. Narrate in the second person (\"you\"): the "
    "reader is the protagonist and the plan is what the reader chose to do; show what happens when they do it, and "
    "never decide for them what they say or do next. Each plan is a choice the reader can make next: a short action "
    "in the imperative, addressed to them (\"Open the sea door\", \"Ask the keeper about the bell\"), each leading "
    "somewhere different. Never write, and never offer as a choice, anything the reader asked to keep out."
)
_ZH_FICTION_TASK = (
    "\n\n这是为上面描述的读者写的互动小说。用第二人称（“你”）叙述：读者就是主角，计划就是读者选择去做的事；"
    "写出他们这样做之后发生了什么，不要替他们决定接下来说什么、做什么。每个计划都是读者接下来可以做出的选择："
    "一个简短的、对读者说的祈使句行动（如“打开海上的门”），各自通向不同的方向。"
    "绝不写入、也绝不作为选择提供读者要求排除的任何内容。"
)

_EN_START = """Start a new novel.

Premise: {premise}
Genre: {genre}
{title_line}
Reply with exactly these sections, each label at the start of its own line:

Title: the novel's title
Outline: the story's outline in 5 to 10 lines, from beginning to end
Paragraph: the opening paragraph of the novel (150 to 250 words)
Memory: a short-term memory of the story so far, under {memory_words} words
Plan 1: one possible plan for the next paragraph, in one or two sentences
Plan 2: a different plan
Plan 3: a different plan"""

_ZH_START = """开始一部新小说。

前提：{premise}
类型：{genre}
{title_line}
请严格按以下各节回答，每个标签（保持英文）独占一行开头：

Title: 小说标题
Outline: 5到10行的故事大纲，从开端到结局
Paragraph: 小说的开篇段落（300到500字）
Memory: 到目前为止故事的短期记忆，不超过{memory_words}字
Plan 1: 下一段的一个可能计划，一两句话
Plan 2: 另一个计划
Plan 3: 另一个计划"""

_EN_STEP = """# {title}

Premise: {premise}

Outline:
{outline}

{bible}Short-term memory (the recent story, in brief):
{short_term}

Earlier passages that may matter now (from the long-term memory):
{retrieved}

The previous paragraph:
{previous}

The plan for the next paragraph:
{plan}

Write the next paragraph following the plan (150 to 250 words), then update the short-term memory: keep what \
still matters, add what is new, drop what no longer matters, and stay under {memory_words} words. Then propose \
three different plans for the paragraph after it. Reply with exactly these sections, each label at the start of \
its own line:

Paragraph: ...
Memory: ...
Plan 1: ...
Plan 2: ...
Plan 3: ..."""

_ZH_STEP = """# {title}

前提：{premise}

大纲：
{outline}

{bible}短期记忆（最近情节的简要总结）：
{short_term}

现在可能相关的前文（来自长期记忆）：
{retrieved}

上一段：
{previous}

下一段的计划：
{plan}

按计划写出下一段（300到500字），然后更新短期记忆：保留仍然重要的，加入新的，删去不再重要的，不超过{memory_words}字。\
再为之后的一段提出三个不同的计划。请严格按以下各节回答，每个标签（保持英文）独占一行开头：

Paragraph: ...
Memory: ...
Plan 1: ...
Plan 2: ...
Plan 3: ..."""

_EN_CHOOSE = """You are an experienced reader and editor helping to steer a novel.

# {title}

Outline:
{outline}

Short-term memory:
{short_term}

The latest paragraph:
{previous}

The writer proposed three plans for the next paragraph:
Plan 1: {plan1}
Plan 2: {plan2}
Plan 3: {plan3}

Choose the plan that makes the most interesting and coherent continuation, and improve it if you can. Reply with:

Choice: 1, 2 or 3
Revised plan: the chosen plan, improved (optional)"""

_ZH_CHOOSE = """你是一位经验丰富的读者和编辑，帮助把握小说的走向。

# {title}

大纲：
{outline}

短期记忆：
{short_term}

最新一段：
{previous}

作者为下一段提出了三个计划：
Plan 1: {plan1}
Plan 2: {plan2}
Plan 3: {plan3}

选择能让故事最有趣、最连贯的计划，并尽可能改进它。按以下格式回答（标签保持英文）：

Choice: 1、2 或 3
Revised plan: 改进后的所选计划（可选）"""

_EN_REPAIR = (
    "Your reply lacks these sections: {missing}. Answer again in full, with every section, each label at the "
    "start of its own line: {labels}."
)
_ZH_REPAIR = "你的回答缺少这些部分：{missing}。请完整地重新回答，包含每一节，每个标签（保持英文）独占一行开头：{labels}。"

_TEXTS = {
    "en": {"system": _EN_SYSTEM, "fiction": _EN_FICTION, "fiction_task": _EN_FICTION_TASK, "start": _EN_START, "step": _EN_STEP,
           "choose": _EN_CHOOSE, "repair": _EN_REPAIR, "none": "(none yet)", "title_line": "Title: {title}\n",
           "bible": "Story bible (facts about the people, places and things in play; keep to them):\n{entries}\n\n"},
    "zh": {"system": _ZH_SYSTEM, "fiction": _ZH_FICTION, "fiction_task": _ZH_FICTION_TASK, "start": _ZH_START, "step": _ZH_STEP,
           "choose": _ZH_CHOOSE, "repair": _ZH_REPAIR, "none": "（暂无）", "title_line": "标题：{title}\n",
           "bible": "设定集（当前相关的人物、地点和物件的设定，请严格遵守）：\n{entries}\n\n"},
}
LANGUAGES = tuple(_TEXTS)


def _texts(lang: str) -> dict[str, str]:
    return _TEXTS.get(lang, _TEXTS["en"])


def _system(lang: str, mode: str) -> str:
    texts = _texts(lang)
    system = texts["system"]
    if mode == "fiction":
        system += "\n\n" + texts["fiction"]
    return system


def _render(lang: str, mode: str, human: str, values: dict, *, writes_scene: bool = False) -> list[ChatMessage]:
    if mode == "fiction" and writes_scene:
        human += _texts(lang)["fiction_task"]
    template = ChatPromptTemplate.from_messages([("system", _system(lang, mode)), ("human", human)])
    messages = template.format_messages(**values)
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    return [ChatMessage(roles[m.type], m.content) for m in messages]


def start_messages(*, premise: str, genre: str, title: str, lang: str, mode: str, persona: str, memory_words: int) -> list[ChatMessage]:
    texts = _texts(lang)
    title_line = texts["title_line"].format(title=title) if title else ""
    return _render(lang, mode, texts["start"], {
        "premise": premise, "genre": genre or "literary", "title_line": title_line,
        "memory_words": memory_words, "persona": persona or "-",
    }, writes_scene=True)


def step_messages(*, title: str, premise: str, genre: str, outline: str, short_term: str, retrieved: list[str],
                  previous: str, plan: str, lang: str, mode: str, persona: str, memory_words: int,
                  bible: str = "") -> list[ChatMessage]:
    """`bible`: the selected story-bible entries, one per line; the block is
    left out entirely when there are none."""
    texts = _texts(lang)
    bible_block = texts["bible"].format(entries=bible.strip()) if bible.strip() else ""
    retrieved_text = "\n\n".join(f"[{i}] {p}" for i, p in enumerate(retrieved, start=1)) or texts["none"]
    return _render(lang, mode, texts["step"], {
        "title": title, "premise": premise, "genre": genre or "literary", "outline": outline,
        "short_term": short_term or texts["none"], "retrieved": retrieved_text, "previous": previous or texts["none"],
        "plan": plan, "memory_words": memory_words, "persona": persona or "-", "bible": bible_block,
    }, writes_scene=True)


def choose_messages(*, title: str, outline: str, short_term: str, previous: str, plans: list[str], lang: str,
                    mode: str, persona: str, genre: str) -> list[ChatMessage]:
    texts = _texts(lang)
    return _render(lang, mode, texts["choose"], {
        "title": title, "outline": outline, "short_term": short_term, "previous": previous,
        "plan1": plans[0], "plan2": plans[1], "plan3": plans[2], "genre": genre or "literary", "persona": persona or "-",
    })


def repair_message(lang: str, missing: list[str], labels: tuple[str, ...]) -> ChatMessage:
    text = _texts(lang)["repair"].format(missing=", ".join(missing), labels=", ".join(f"{l}:" for l in labels))
    return ChatMessage("user", text)


def count_tokens(text: str) -> int:
    """An estimate of the tokens in `text` (words, punctuation, CJK characters)."""
    import re

    return len(re.findall(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|\w+|[^\w\s]", text))
