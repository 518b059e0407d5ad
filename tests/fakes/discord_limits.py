"""Discord's documented size limits, checked with Discord-shaped "Invalid Form Body" error trees."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """The limits the fake enforces; tests may read them to build max-size payloads."""

    content: int = 2000
    embeds: int = 10
    embed_title: int = 256
    embed_description: int = 4096
    embed_fields: int = 25
    field_name: int = 256
    field_value: int = 1024
    footer_text: int = 2048
    author_name: int = 256
    embed_total: int = 6000
    action_rows: int = 5
    row_buttons: int = 5
    custom_id: int = 100
    button_label: int = 80
    select_options: int = 25
    select_option_text: int = 100
    select_placeholder: int = 150
    choices: int = 25
    choice_name: int = 100
    choice_value: int = 100
    modal_title: int = 45
    text_input_label: int = 45
    text_input_value: int = 4000
    commands: int = 100
    command_name: int = 32
    command_description: int = 100
    command_options: int = 25
    v2_components: int = 40


LIMITS = Limits()

MESSAGE_FLAG_SUPPRESS_EMBEDS = 1 << 2
MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7
MESSAGE_FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
MESSAGE_FLAG_COMPONENTS_V2 = 1 << 15

# Component types.
ACTION_ROW = 1
BUTTON = 2
STRING_SELECT = 3
TEXT_INPUT = 4
USER_SELECT = 5
ROLE_SELECT = 6
MENTIONABLE_SELECT = 7
CHANNEL_SELECT = 8
LABEL = 18
SELECT_TYPES = (STRING_SELECT, USER_SELECT, ROLE_SELECT, MENTIONABLE_SELECT, CHANNEL_SELECT)
LINK_BUTTON_STYLE = 5
PREMIUM_BUTTON_STYLE = 6

# Application command option types.
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


class FormErrors:
    """Collects errors into Discord's nested `errors` object (`{"field": {"_errors": [...]}}`)."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        """Record one error at a path such as ("embeds", 0, "title")."""
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def __bool__(self) -> bool:
        return bool(self.tree)

    def flat(self) -> list[str]:
        """Errors as `path: CODE` strings, handy in assertion messages."""
        out: list[str] = []

        def walk(node: dict[str, Any], prefix: str) -> None:
            for key, value in node.items():
                if key == "_errors":
                    out.extend(f"{prefix or '<root>'}: {err['code']}" for err in value)
                else:
                    walk(value, f"{prefix}.{key}" if prefix else key)

        walk(self.tree, "")
        return out


def _max_len(errors: FormErrors, path: Sequence[str | int], value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _bad_len(errors: FormErrors, path: Sequence[str | int], value: Any, low: int, high: int) -> None:
    if value is None:
        if low > 0:
            errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    if len(value) < low or len(value) > high:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def _max_items(errors: FormErrors, path: Sequence[str | int], value: Sequence[Any], limit: int) -> None:
    if len(value) > limit:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def embed_size(embed: dict[str, Any]) -> int:
    """Characters that count toward the 6000 total: title, description, fields, footer, author."""
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    for item in embed.get("fields") or []:
        size += len(item.get("name") or "") + len(item.get("value") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    return size


def validate_embeds(embeds: Any, errors: FormErrors, prefix: Sequence[str | int] = ()) -> None:
    """Check the embeds array of a message."""
    path = (*prefix, "embeds")
    if not isinstance(embeds, list):
        errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    _max_items(errors, path, embeds, LIMITS.embeds)
    for index, embed in enumerate(embeds):
        here = (*path, index)
        if not isinstance(embed, dict):
            errors.add(here, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        _max_len(errors, (*here, "title"), embed.get("title"), LIMITS.embed_title)
        _max_len(errors, (*here, "description"), embed.get("description"), LIMITS.embed_description)
        fields = embed.get("fields") or []
        _max_items(errors, (*here, "fields"), fields, LIMITS.embed_fields)
        for number, item in enumerate(fields):
            _bad_len(errors, (*here, "fields", number, "name"), item.get("name"), 1, LIMITS.field_name)
            _bad_len(errors, (*here, "fields", number, "value"), item.get("value"), 1, LIMITS.field_value)
        footer = embed.get("footer")
        if footer is not None:
            _bad_len(errors, (*here, "footer", "text"), footer.get("text"), 1, LIMITS.footer_text)
        author = embed.get("author")
        if author is not None:
            _bad_len(errors, (*here, "author", "name"), author.get("name"), 1, LIMITS.author_name)
    total = sum(embed_size(e) for e in embeds if isinstance(e, dict))
    if total > LIMITS.embed_total:
        errors.add(path, "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {LIMITS.embed_total}")


def _check_button(errors: FormErrors, path: tuple[str | int, ...], button: dict[str, Any]) -> None:
    style = button.get("style")
    if style == LINK_BUTTON_STYLE:
        if not button.get("url"):
            errors.add((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
        if button.get("custom_id") is not None:
            errors.add(
                (*path, "custom_id"), "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED", "Link buttons cannot have a custom_id"
            )
    elif style != PREMIUM_BUTTON_STYLE:
        _bad_len(errors, (*path, "custom_id"), button.get("custom_id"), 1, LIMITS.custom_id)
    label = button.get("label")
    _max_len(errors, (*path, "label"), label, LIMITS.button_label)
    if style != PREMIUM_BUTTON_STYLE and not label and not button.get("emoji"):
        errors.add(path, "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED", "A label or emoji is required")


def _check_select(errors: FormErrors, path: tuple[str | int, ...], select: dict[str, Any]) -> None:
    _bad_len(errors, (*path, "custom_id"), select.get("custom_id"), 1, LIMITS.custom_id)
    _max_len(errors, (*path, "placeholder"), select.get("placeholder"), LIMITS.select_placeholder)
    min_values = select.get("min_values", 1)
    max_values = select.get("max_values", 1)
    if not 0 <= min_values <= 25:
        errors.add((*path, "min_values"), "NUMBER_TYPE_MAX", "int value should be between 0 and 25.")
    if not 1 <= max_values <= 25:
        errors.add((*path, "max_values"), "NUMBER_TYPE_MAX", "int value should be between 1 and 25.")
    if select.get("type") != STRING_SELECT:
        return
    options = select.get("options") or []
    _bad_len(errors, (*path, "options"), options, 1, LIMITS.select_options)
    if options and max_values > len(options):
        errors.add((*path, "max_values"), "SELECT_COMPONENT_MAX_VALUES_EXCEEDS_OPTIONS", "max_values exceeds options")
    for number, option in enumerate(options):
        here = (*path, "options", number)
        _bad_len(errors, (*here, "label"), option.get("label"), 1, LIMITS.select_option_text)
        _bad_len(errors, (*here, "value"), option.get("value"), 1, LIMITS.select_option_text)
        _max_len(errors, (*here, "description"), option.get("description"), LIMITS.select_option_text)


def _walk_components(components: list[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for component in components:
        if not isinstance(component, dict):
            continue
        found.append(component)
        found.extend(_walk_components(component.get("components") or []))
        for key in ("component", "accessory"):
            child = component.get(key)
            if isinstance(child, dict):
                found.extend(_walk_components([child]))
    return found


def validate_components(
    components: Any, errors: FormErrors, prefix: Sequence[str | int] = (), *, flags: int = 0
) -> None:
    """Check a message's components (classic action rows, or a loose check of components v2)."""
    path = (*prefix, "components")
    if not isinstance(components, list):
        errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    everything = _walk_components(components)
    seen: set[str] = set()
    for component in everything:
        custom_id = component.get("custom_id")
        if isinstance(custom_id, str):
            if custom_id in seen:
                errors.add(path, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
            seen.add(custom_id)
    if flags & MESSAGE_FLAG_COMPONENTS_V2:
        _max_items(errors, path, everything, LIMITS.v2_components)
        for component in everything:
            if component.get("type") == BUTTON:
                _check_button(errors, path, component)
            elif component.get("type") in SELECT_TYPES:
                _check_select(errors, path, component)
        return
    _max_items(errors, path, components, LIMITS.action_rows)
    for index, row in enumerate(components):
        here: tuple[str | int, ...] = (*path, index)
        if not isinstance(row, dict) or row.get("type") != ACTION_ROW:
            errors.add((*here, "type"), "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).')
            continue
        children = row.get("components") or []
        _bad_len(errors, (*here, "components"), children, 1, LIMITS.row_buttons)
        kinds = [child.get("type") for child in children if isinstance(child, dict)]
        if any(kind in SELECT_TYPES for kind in kinds) and len(kinds) > 1:
            errors.add(
                (*here, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for number, child in enumerate(children):
            child_path = (*here, "components", number)
            if child.get("type") == BUTTON:
                _check_button(errors, child_path, child)
            elif child.get("type") in SELECT_TYPES:
                _check_select(errors, child_path, child)
            else:
                errors.add((*child_path, "type"), "COMPONENT_TYPE_INVALID", "Invalid component type")


def validate_allowed_mentions(value: Any, errors: FormErrors, prefix: Sequence[str | int] = ()) -> None:
    """Reject contradictory allowed_mentions the way Discord does."""
    if value is None:
        return
    path = (*prefix, "allowed_mentions")
    parse = value.get("parse") or []
    for kind in ("users", "roles"):
        if kind in parse and value.get(kind):
            errors.add(
                (*path, kind),
                "ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
        _max_items(errors, (*path, kind), value.get(kind) or [], 100)


def validate_message(payload: dict[str, Any], errors: FormErrors, prefix: Sequence[str | int] = ()) -> None:
    """Check every field of a message create/edit body that is present."""
    content = payload.get("content")
    if content is not None:
        if not isinstance(content, str):
            errors.add((*prefix, "content"), "BASE_TYPE_STRING", "Must be a string.")
        else:
            _max_len(errors, (*prefix, "content"), content, LIMITS.content)
    if payload.get("embeds") is not None:
        validate_embeds(payload["embeds"], errors, prefix)
    flags = int(payload.get("flags") or 0)
    if payload.get("components") is not None:
        validate_components(payload["components"], errors, prefix, flags=flags)
    if flags & MESSAGE_FLAG_COMPONENTS_V2 and (payload.get("content") or payload.get("embeds")):
        errors.add(
            (*prefix, "content"),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2",
        )
    validate_allowed_mentions(payload.get("allowed_mentions"), errors, prefix)


def is_empty_message(
    content: str | None,
    embeds: list[Any],
    attachments: list[Any],
    components: list[Any],
    flags: int,
    *,
    sticker_ids: Sequence[Any] = (),
    poll: Any = None,
) -> bool:
    """Discord refuses (50006) a message with nothing to show; classic components alone do not count."""
    if content or embeds or attachments or sticker_ids or poll:
        return False
    return not (flags & MESSAGE_FLAG_COMPONENTS_V2 and components)


def validate_choices(choices: Any, errors: FormErrors, prefix: Sequence[str | int] = ()) -> None:
    """Check autocomplete choices: at most 25, names 1..100 characters, string values up to 100."""
    path = (*prefix, "choices")
    if not isinstance(choices, list):
        errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    _max_items(errors, path, choices, LIMITS.choices)
    for index, choice in enumerate(choices):
        here = (*path, index)
        name = choice.get("name") if isinstance(choice, dict) else None
        _bad_len(errors, (*here, "name"), name, 1, LIMITS.choice_name)
        value = choice.get("value") if isinstance(choice, dict) else None
        if value is None:
            errors.add((*here, "value"), "BASE_TYPE_REQUIRED", "This field is required")
        elif isinstance(value, str):
            _max_len(errors, (*here, "value"), value, LIMITS.choice_value)


def validate_modal(data: dict[str, Any], errors: FormErrors, prefix: Sequence[str | int] = ()) -> None:
    """Check a modal: title 1..45, custom_id 1..100, 1..5 top-level components."""
    _bad_len(errors, (*prefix, "title"), data.get("title"), 1, LIMITS.modal_title)
    _bad_len(errors, (*prefix, "custom_id"), data.get("custom_id"), 1, LIMITS.custom_id)
    components = data.get("components") or []
    _bad_len(errors, (*prefix, "components"), components, 1, 5)
    for component in _walk_components(components):
        if component.get("type") == TEXT_INPUT:
            _bad_len(errors, (*prefix, "components"), component.get("custom_id"), 1, LIMITS.custom_id)
            _max_len(errors, (*prefix, "components"), component.get("label"), LIMITS.text_input_label)
            _max_len(errors, (*prefix, "components"), component.get("value"), LIMITS.text_input_value)
        if component.get("type") == LABEL:
            _bad_len(errors, (*prefix, "components"), component.get("label"), 1, LIMITS.text_input_label)


def _check_command_name(errors: FormErrors, path: tuple[str | int, ...], name: Any, *, lowercase: bool) -> None:
    if not isinstance(name, str) or not _COMMAND_NAME.match(name):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    elif lowercase and name != name.lower():
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name must be lowercase")


def _check_options(errors: FormErrors, path: tuple[str | int, ...], options: list[dict[str, Any]], depth: int) -> None:
    _max_items(errors, path, options, LIMITS.command_options)
    names: set[str] = set()
    seen_optional = False
    kinds = {option.get("type") for option in options}
    if kinds & {SUB_COMMAND, SUB_COMMAND_GROUP} and kinds - {SUB_COMMAND, SUB_COMMAND_GROUP}:
        errors.add(path, "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-commands cannot be mixed with options")
    for index, option in enumerate(options):
        here = (*path, index)
        kind = option.get("type")
        name = option.get("name")
        _check_command_name(errors, (*here, "name"), name, lowercase=True)
        if name in names:
            errors.add((*here, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Option names must be unique")
        names.add(str(name))
        _bad_len(errors, (*here, "description"), option.get("description"), 1, LIMITS.command_description)
        if kind == SUB_COMMAND_GROUP and depth > 0:
            errors.add((*here, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Groups cannot be nested")
        if kind == SUB_COMMAND and depth > 1:
            errors.add((*here, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-command too deep")
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            children = option.get("options") or []
            if kind == SUB_COMMAND_GROUP and any(child.get("type") != SUB_COMMAND for child in children):
                errors.add(
                    (*here, "options"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Groups hold sub-commands only"
                )
            _check_options(errors, (*here, "options"), children, depth + 1)
            continue
        if option.get("required"):
            if seen_optional:
                errors.add(
                    (*here, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = option.get("choices")
        if choices:
            if option.get("autocomplete"):
                errors.add(
                    (*here, "autocomplete"),
                    "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_AND_CHOICES",
                    "Autocomplete cannot be set with choices",
                )
            validate_choices(choices, errors, here)


def validate_commands(commands: Any, errors: FormErrors) -> None:
    """Check a bulk-overwrite body of application commands."""
    if not isinstance(commands, list):
        errors.add((), "BASE_TYPE_ARRAY", "Must be an array.")
        return
    slash_count = sum(1 for command in commands if command.get("type", 1) == 1)
    if slash_count > LIMITS.commands:
        errors.add((), "BASE_TYPE_MAX_LENGTH", f"Must be {LIMITS.commands} or fewer in length.")
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        kind = int(command.get("type", 1))
        name = command.get("name")
        _check_command_name(errors, (index, "name"), name, lowercase=kind == 1)
        if (kind, str(name)) in seen:
            errors.add(
                (index, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
            )
        seen.add((kind, str(name)))
        if kind == 1:
            _bad_len(errors, (index, "description"), command.get("description"), 1, LIMITS.command_description)
            _check_options(errors, (index, "options"), command.get("options") or [], 0)
