# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""What a user gets back: [`HierarchicalCaptions`] and its JSON, SubRip, WebVTT, Markdown and HTML forms."""

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..models.video_recap.configuration_video_recap import validate_level


_TIME_EPSILON = 1e-6


def _timestamp(seconds: float, decimal_separator: str) -> str:
    """`HH:MM:SS,mmm` (SubRip) or `HH:MM:SS.mmm` (WebVTT)."""
    milliseconds = max(0, round(seconds * 1000))
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    secs, milliseconds = divmod(milliseconds, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_separator}{milliseconds:03d}"


def _clock(seconds: float) -> str:
    """`H:MM:SS`, rounded to the second."""
    hours, rest = divmod(max(0, round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _one_line(text: str) -> str:
    """Text with all whitespace runs (newlines included) turned into single spaces, so a cue stays one block."""
    return " ".join(text.split())


@dataclass
class TimedCaption:
    """A caption of the window `[start, end]` (seconds)."""

    start: float
    end: float
    text: str


@dataclass
class HierarchicalCaptions:
    r"""
    Captions of one video at the three levels.

    Args:
        clips (`list[TimedCaption]`): clip captions, in time order.
        segments (`list[TimedCaption]`): segment descriptions, in time order.
        summary (`str`, *optional*): the video summary.
        duration (`float`, *optional*): length of the video in seconds.
    """

    clips: list[TimedCaption] = field(default_factory=list)
    segments: list[TimedCaption] = field(default_factory=list)
    summary: str | None = None
    duration: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain Python: `{"duration", "clips": [{"start", "end", "text"}], "segments": [...], "summary"}`."""
        return {
            "duration": self.duration,
            "clips": [asdict(caption) for caption in self.clips],
            "segments": [asdict(caption) for caption in self.segments],
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "HierarchicalCaptions":
        """Inverse of [`to_dict`] (extra keys, such as the CLI's `"video"`, are ignored)."""
        return cls(
            clips=[TimedCaption(**caption) for caption in data.get("clips") or []],
            segments=[TimedCaption(**caption) for caption in data.get("segments") or []],
            summary=data.get("summary"),
            duration=data.get("duration"),
        )

    def to_json(self, indent: int | None = 2) -> str:
        """The captions as JSON (see [`to_dict`])."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def _cues(self, levels: Sequence[str]) -> list[tuple[str, int, TimedCaption]]:
        for level in levels:
            validate_level(level)
        cues = []
        if "video" in levels and self.summary:
            end = (
                self.duration
                if self.duration is not None
                else max((c.end for c in self.segments + self.clips), default=0.0)
            )
            cues.append(("summary", 0, TimedCaption(0.0, end, self.summary)))
        if "segment" in levels:
            cues.extend(("segment", index, caption) for index, caption in enumerate(self.segments))
        if "clip" in levels:
            cues.extend(("clip", index, caption) for index, caption in enumerate(self.clips))
        order = {"summary": 0, "segment": 1, "clip": 2}
        cues = [cue for cue in cues if cue[2].text.strip()]
        return sorted(cues, key=lambda cue: (round(cue[2].start, 6), order[cue[0]], cue[1]))

    def to_srt(self, levels: Sequence[str] = ("clip", "segment")) -> str:
        """
        SubRip subtitles: one cue per clip caption and per segment description (overlapping cues, which players stack);
        add `"video"` to `levels` for a cue with the summary over the whole video. Empty captions are left out.
        """
        blocks = []
        for number, (_, _, caption) in enumerate(self._cues(levels), start=1):
            times = f"{_timestamp(caption.start, ',')} --> {_timestamp(caption.end, ',')}"
            blocks.append(f"{number}\n{times}\n{_one_line(caption.text)}\n")
        return "\n".join(blocks)

    def to_vtt(self, levels: Sequence[str] = ("clip", "segment")) -> str:
        """
        WebVTT subtitles with the cues of [`to_srt`] (identified `clip-N` / `segment-N` / `summary`); the summary is
        also written as a `NOTE` block under the header.
        """
        blocks = ["WEBVTT\n"]
        if self.summary:
            blocks.append(f"NOTE\nSummary: {_one_line(self.summary).replace('-->', '->')}\n")
        for kind, index, caption in self._cues(levels):
            identifier = kind if kind == "summary" else f"{kind}-{index + 1}"
            times = f"{_timestamp(caption.start, '.')} --> {_timestamp(caption.end, '.')}"
            text = _one_line(caption.text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            blocks.append(f"{identifier}\n{times}\n{text}\n")
        return "\n".join(blocks)

    def to_html(
        self,
        video_path: str | os.PathLike | None = None,
        title: str | None = None,
        output_path: str | os.PathLike | None = None,
        video_src: str | None = None,
    ) -> str:
        """
        One self-contained HTML page (no network): the video player, the summary, the segments as a timeline and the
        clip captions under each segment; clicking a caption seeks the video. See [`~engine.html.render_html`] for how
        the video is referenced (relative to `output_path` when given).
        """
        from .html import render_html

        return render_html(self, video_path, title, output_path=output_path, video_src=video_src)

    def to_markdown(self) -> str:
        """A readable report: the summary, then each segment with its description and the clip captions inside it."""
        lines = []
        if self.summary is not None:
            lines += ["# Video summary", "", self.summary, ""]
        if self.segments:
            lines += ["## Segments", ""]
            for number, segment in enumerate(self.segments, start=1):
                lines += [f"### {number}. {_clock(segment.start)} – {_clock(segment.end)}", "", segment.text, ""]
                inside = [
                    clip
                    for clip in self.clips
                    if segment.start - _TIME_EPSILON <= clip.start
                    and (clip.start < segment.end or number == len(self.segments))
                ]
                lines += [f"- `{_clock(clip.start)}–{_clock(clip.end)}` {clip.text}" for clip in inside]
                if inside:
                    lines.append("")
        elif self.clips:
            lines += ["## Clip captions", ""]
            lines += [f"- `{_clock(clip.start)}–{_clock(clip.end)}` {clip.text}" for clip in self.clips]
            lines.append("")
        return "\n".join(lines)


__all__ = ["HierarchicalCaptions", "TimedCaption"]
