"""The Settings tab: this session's backend and writing settings, on top of
the process settings. The API key is entered masked and is never rendered
back into the page: the field is always emptied, and only "a key is set"
is shown."""

import gradio as gr
from pydantic import SecretStr, ValidationError

from app.studio.session import Studio

BACKENDS = [("Hosted (OpenAI-compatible API)", "openai"), ("Local model (RWKV-7)", "local")]


def key_note(studio: Studio, prefs: dict) -> str:
    if (prefs or {}).get("api_key"):
        return "An API key is set for this session (hidden)."
    if studio.library.settings.api_key:
        return "An API key is set on the server (hidden); enter one to use yours instead."
    return "No API key is set."


def save_settings(studio: Studio, prefs: dict, backend: str, base_url: str, model: str, api_key: str,
                  local_model: str, device: str, temperature, max_tokens, retrieval_k, lang: str,
                  forget_key: bool = False):
    """New session overrides; returns (prefs, key field, key note, message)."""
    update = dict(prefs or {})
    update.update(backend=backend, base_url=(base_url or "").strip() or None, model=(model or "").strip() or None,
                  local_model=(local_model or "").strip() or None, device=(device or "").strip() or None,
                  temperature=temperature, max_tokens=max_tokens, retrieval_k=retrieval_k,
                  lang=lang)
    if forget_key:
        update.pop("api_key", None)
    elif (api_key or "").strip():
        update["api_key"] = SecretStr(api_key.strip())
    try:
        studio.settings(update)  # validate now, not at the next step
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise gr.Error(f"These settings are not valid: {problems}") from None
    return update, "", key_note(studio, update), "Saved for this session."


def settings_values(studio: Studio, prefs: dict) -> list:
    s = studio.settings(prefs)
    return [s.backend, s.base_url or "", s.model, "", s.local_model or "", s.device or "", s.temperature,
            s.max_tokens, s.retrieval_k, (prefs or {}).get("lang", "en"), key_note(studio, prefs)]


def build_settings_tab(ctx) -> None:
    studio = ctx.studio
    s = studio.library.settings
    with gr.Tab("Settings", id="settings"):
        with gr.Row(equal_height=False):
            with gr.Column(min_width=320):
                gr.Markdown("### The model")
                backend = gr.Radio(BACKENDS, value=s.backend, label="Backend", elem_id="backend")
                base_url = gr.Textbox(value=s.base_url or "", label="Base URL (hosted)", elem_id="base-url",
                                      placeholder="https://api.openai.com/v1")
                model = gr.Textbox(value=s.model, label="Model (hosted)", elem_id="model")
                api_key = gr.Textbox(value="", type="password", label="API key (hosted)", elem_id="api-key",
                                     placeholder="sk-… (kept on the server, never shown again)")
                note = gr.Markdown(key_note(studio, {}), elem_id="key-note")
                forget = gr.Checkbox(False, label="Forget the key I entered", elem_id="forget-key")
                local_model = gr.Textbox(value=s.local_model or "", label="Local model: path or name",
                                         elem_id="local-model")
                device = gr.Textbox(value=s.device or "", label="Local model: device (cpu, cuda)", elem_id="device")
            with gr.Column(min_width=320):
                gr.Markdown("### Writing")
                temperature = gr.Slider(0.0, 2.0, value=s.temperature, step=0.05, label="Temperature",
                                        elem_id="temperature")
                max_tokens = gr.Slider(200, 8000, value=s.max_tokens, step=100, label="Length (max tokens a step)",
                                       elem_id="max-tokens")
                retrieval_k = gr.Slider(0, 10, value=s.retrieval_k, step=1, label="Paragraphs recalled per step",
                                        elem_id="retrieval-k")
                lang = gr.Radio([("English", "en"), ("Chinese 中文", "zh")], value="en", label="Language of new stories",
                                elem_id="default-lang")
                save_btn = gr.Button("Save settings", variant="primary", elem_id="save-settings")
                saved = gr.Markdown("", elem_id="settings-saved")

    def save(prefs, *values):
        update, key, key_text, message = save_settings(studio, prefs, *values)
        return update, key, key_text, message, gr.update(value=update.get("lang", "en")), False

    save_btn.click(save, [ctx.prefs, backend, base_url, model, api_key, local_model, device, temperature,
                          max_tokens, retrieval_k, lang, forget],
                   [ctx.prefs, api_key, note, saved, ctx.parts["lang"], forget], api_name=False)
