"""InfiniteBench's 12 tasks as released (OpenBMB/InfiniteBench at 88b3daa): facts, kept verbatim.

- `template`: `yarn_mistral_templates` of src/prompt.py:17-30, the text every open-weight model's
  script sends (eval_utils.py:51-59 maps yarn-mistral, yi-6b-200k, yi-34b-200k and chatglm3 to it);
- `cue`: the words the template ends with that open the answer ("The pass key is"); the `chat`
  prompt format moves them after the chat template's generation prompt (empty: the question
  itself ends the template);
- `max_new_tokens`: DATA_NAME_TO_MAX_NEW_TOKENS (eval_utils.py:36-49);
- `metric`: the name of the task's score (scoring.SCORERS holds the rule of compute_scores.py);
- `label`: the name in InfiniteBench's README table; `synthetic`: generated here
  (evals.benchmarks.infinitebench.synthetic), the others read the released files.
"""
from __future__ import annotations

from dataclasses import dataclass

REPO = "OpenBMB/InfiniteBench"
COMMIT = "88b3daa6989da2fbe0077170d7a3c84c25d5ae58"


@dataclass(frozen=True)
class Task:
    name: str
    label: str
    template: str
    cue: str
    max_new_tokens: int
    metric: str
    synthetic: bool = False


_TASKS = (
    Task("passkey", "Retrieve.PassKey",
         "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz "
         "you about the important information.\n\n{context}\n\n{input}\n\nThe pass key is",
         "The pass key is", 6, "accuracy", synthetic=True),
    Task("number_string", "Retrieve.Number",
         "There is an important info hidden inside a lot of irrelevant text. Find it. I will quiz you about the "
         "important information there.\n\n{context}\n\n{input}\n\nThe sequence of digits is",
         "The sequence of digits is", 12, "accuracy", synthetic=True),
    Task("kv_retrieval", "Retrieve.KV",
         "Extract the value corresponding to the specified key in the JSON object below.\n\n{context}\n\n{input}",
         "", 50, "accuracy", synthetic=True),
    Task("longbook_sum_eng", "En.Sum",
         "Summarize the book below.\n\n{context}\n\nSummary:", "Summary:", 1200, "rougeLsum"),
    Task("longbook_choice_eng", "En.MC",
         "Read the book and answer the question.\n\n{context}\n\nQuestion: {question}\nA. {OPTION_A}\nB. {OPTION_B}"
         "\nC. {OPTION_C}\nD. {OPTION_D}\n\nThe letter of the correct answer is",
         "The letter of the correct answer is", 40, "accuracy"),
    Task("longbook_qa_eng", "En.QA",
         "Read the book and answer the question. Be very concise in your answer.\n\n{context}\n\nQuestion: "
         "{question}\nAnswer:", "Answer:", 40, "qa_f1"),
    Task("longbook_qa_chn", "Zh.QA",
         "阅读以下书籍然后回答问题。\n\n{context}\n\n问题：{question}\n答案：", "答案：", 40, "char_f1_zh"),
    Task("longdialogue_qa_eng", "En.Dia",
         "Below is a dialogue script where one random occurrence of a character name is replaced with "
         "\"$$MASK$$\", and you should try to guess who that character is.\n\n{context}\n\nThe name that has been "
         "replaced with $$MASK$$ is likely", "The name that has been replaced with $$MASK$$ is likely", 40,
         "accuracy"),
    Task("math_find", "Math.Find", "{prefix}\n\n{context}\n\n{input}", "", 3, "accuracy"),
    Task("math_calc", "Math.Calc",
         "Let us calculate the intermediate values of an expression.\n\nExpression: 1 + 3 + 4\nValues: [1, 4, 8]\n\n"
         "Expression: 8 - 3 + 2 - 4\nValues: [8, 5, 7, 3]\n\nExpression: {context}\nValues:", "Values:", 30000,
         "prefix_match"),
    Task("code_run", "Code.Run",
         "There is a function called {func} in the following Python code.\n\n{context}\n\nPlease compute the exact "
         "value of {func_call}. The value of {func_call} is", "The value of {func_call} is", 5, "accuracy"),
    Task("code_debug", "Code.Debug",
         "Following is a Python code where exactly one of the functions/methods has a deliberate error that makes "
         "it crash.\n\n{context}\n\nOptions:\nA. {OPTION_A}\nB. {OPTION_B}\nC. {OPTION_C}\nD. {OPTION_D}\n\n"
         "The correct option is:", "The correct option is:", 5, "accuracy"),
)
TASKS: dict[str, Task] = {task.name: task for task in _TASKS}
SYNTHETIC = [name for name, task in TASKS.items() if task.synthetic]
RELEASED = [name for name, task in TASKS.items() if not task.synthetic]

# The open-weight scripts cut the prompt's middle to this many tokens (TRUNCATE_LEN); GPT-4's
# eval_utils.create_msgs cuts to 128_000 - 1000 tiktoken tokens.
TRUNCATE_LEN = {"eval_yarn_mistral.py": 128 * 1024, "eval_chatglm.py": 128 * 1024, "eval_yi_200k.py": 200_000,
                "eval_utils.py (gpt4)": 128_000 - 1000}


def check_tasks(tasks) -> list[str]:
    """The task list of a config ("all", one name or a list), each name checked."""
    if tasks in (None, "all", ["all"]):
        return list(TASKS)
    names = [tasks] if isinstance(tasks, str) else list(tasks)
    if not names:
        raise ValueError(f"InfiniteBench 'tasks' is empty. Valid: all, {', '.join(TASKS)}")
    for name in names:
        if name not in TASKS:
            raise ValueError(f"Unknown InfiniteBench task {name!r}. Valid: all, {', '.join(TASKS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"InfiniteBench 'tasks' names a task twice: {names}")
    return names
