"""Synthetic-HCap QA: questions checked against the ground truth they come from, the EgoSchema layout, the baseline."""

import json

import pytest

from transformers_recap import HierarchicalCaptions
from transformers_recap.data import load_egoschema, make_synthetic_questions, plan_synthetic_video
from transformers_recap.data.synthetic import parse_clip_caption
from transformers_recap.data.synthetic_qa import ground_truth_caption_record, write_synthetic_egoschema
from transformers_recap.qa import TextSimilarityQA, read_saved_captions


NUM_VIDEOS = 12


def plans(seed: int, count: int = NUM_VIDEOS):
    return [plan_synthetic_video(f"synthetic-{seed}-{i:05d}", (seed, i)) for i in range(count)]


def side_of_a(segment) -> str:
    """Where object A ends, from its positions on the first and last frame."""
    return "right" if segment.clips[-1].x_end[0] > segment.clips[0].x_start[0] else "left"


def descriptions(segment) -> set[str]:
    """Every way an option may state the segment's activity (written out here, independently of the module)."""
    a, b = (obj.name for obj in segment.objects)
    side = side_of_a(segment)
    return {
        "inspect": {f"C inspects the {a}"},
        "shuffle": {f"C slides the {a} back and forth"},
        "push_across": {f"C pushes the {a} to the {side} side of the table"},
        "relocate": {f"C carries the {a} to the {side} side of the table"},
        "swap": {f"C swaps the {a} and the {b}", f"C swaps the {b} and the {a}"},
        "replace": {f"C puts the {a} where the {b} was"},
    }[segment.activity]


GERUNDS = {
    "C inspects": "inspecting",
    "C slides": "sliding",
    "C pushes": "pushing",
    "C carries": "carrying",
    "C swaps": "swapping",
    "C puts": "putting",
}


def gerund(description: str) -> str:
    verb, rest = description.split(" ", 2)[:2], description.split(" ", 2)[2]
    return f"{GERUNDS[' '.join(verb)]} {rest}"


def test_questions_are_deterministic_and_well_formed():
    videos = plans(11)
    first = [make_synthetic_questions(video, (11, i, 1)) for i, video in enumerate(videos)]
    again = [make_synthetic_questions(video, (11, i, 1)) for i, video in enumerate(videos)]
    other = [make_synthetic_questions(video, (12, i, 1)) for i, video in enumerate(videos)]
    assert first == again and first != other
    kinds = set()
    for video, questions in zip(videos, first, strict=True):
        assert [q.q_uid for q in questions] == [f"{video.video_uid}-q{i}" for i in range(len(questions))]
        for q in questions:
            assert len(q.options) == 5 and len(set(q.options)) == 5 and 0 <= q.answer < 5
            assert q.video_uid == video.video_uid
            kinds.add(q.kind)
    assert kinds == {"after", "before", "first", "last", "occurred", "clip_action"}
    answers = [q.answer for questions in first for q in questions]
    assert len(set(answers)) == 5  # the correct option is not always in one place


def test_answers_follow_from_the_ground_truth():
    for index, video in enumerate(plans(21)):
        segment_texts = [descriptions(segment) for segment in video.segments]
        happened = set().union(*segment_texts)
        clip_keys = {parse_clip_caption(clip.caption) for clip in video.clips}
        for q in make_synthetic_questions(video, (21, index, 1)):
            answer, wrong = q.options[q.answer], [o for i, o in enumerate(q.options) if i != q.answer]
            if q.kind in ("after", "before"):
                anchors = [i for i, texts in enumerate(segment_texts) if any(gerund(t) in q.question for t in texts)]
                assert len(anchors) == 1, q.question
                target = anchors[0] + (1 if q.kind == "after" else -1)
                assert q.level == "segment" and answer in segment_texts[target]
            elif q.kind in ("first", "last"):
                assert q.level == "video" and answer in segment_texts[0 if q.kind == "first" else -1]
            if q.kind in ("after", "before", "first", "last"):
                # The wrong options are other things C did in the video, as long as there are enough of them.
                others = {min(texts) for texts in segment_texts if answer not in texts}
                assert sum(option in happened for option in wrong) == min(4, len(others))
                assert not any(option in descriptions_of(answer, segment_texts) for option in wrong)
            elif q.kind == "occurred":
                assert q.level == "video" and answer in happened
                assert not any(option in happened for option in wrong)
            elif q.kind == "clip_action":
                assert q.level == "clip"
                assert parse_clip_caption("#C " + answer) in clip_keys
                assert all(parse_clip_caption("#C " + option) not in clip_keys | {None} for option in wrong)


def descriptions_of(answer: str, segment_texts: list[set[str]]) -> set[str]:
    """All phrasings of the activity `answer` states (both object orders of a swap)."""
    return next((texts for texts in segment_texts if answer in texts), {answer})


def test_egoschema_layout_and_ground_truth_captions(tmp_path):
    summary = write_synthetic_egoschema(tmp_path, 3, 31, render=False)
    videos = plans(31, 3)
    expected = [q for i, video in enumerate(videos) for q in make_synthetic_questions(video, (31, i, 1))]
    dataset = load_egoschema(summary.questions_file, summary.answers_file, video_dir=tmp_path / "videos")
    assert dataset["q_uid"] == [q.q_uid for q in expected] and summary.num_questions == len(expected)
    assert dataset["answer"] == [q.answer for q in expected]
    assert dataset["options"] == [list(q.options) for q in expected]
    assert dataset["kind"] == [q.kind for q in expected]
    assert dataset[0]["video_path"] == str(tmp_path / "videos" / "synthetic-31-00000.mp4")
    assert json.loads((tmp_path / "questions.json").read_text())[0]["option 4"] == expected[0].options[4]
    captions = read_saved_captions(summary.captions_file)
    truth = videos[1]
    assert captions[truth.video_uid].summary == truth.summary
    assert [c.text for c in captions[truth.video_uid].clips] == [clip.caption for clip in truth.clips]
    assert [(c.start, c.end, c.text) for c in captions[truth.video_uid].segments] == [
        (s.start_sec, s.end_sec, s.description) for s in truth.segments
    ]
    assert not (tmp_path / "videos" / "synthetic-31-00000.mp4").exists()  # render=False


def accuracy(videos, seed, levels, kinds=None) -> float:
    qa = TextSimilarityQA()
    hits = total = 0
    for index, video in enumerate(videos):
        captions = HierarchicalCaptions.from_dict(ground_truth_caption_record(video))
        for q in make_synthetic_questions(video, (seed, index, 1)):
            if kinds is None or q.kind in kinds:
                hits += qa.answer(captions, q.question, q.options, levels).prediction == q.answer
                total += 1
    return hits / total


def test_the_baseline_needs_the_level_a_question_is_about():
    videos = plans(41, 20)
    temporal = ("after", "before")
    # Order questions: the segment level answers most of them, clip captions alone little more than chance (20%).
    assert accuracy(videos, 41, "segment", temporal) >= 0.8
    assert accuracy(videos, 41, "clip", temporal) <= accuracy(videos, 41, "segment", temporal) - 0.4
    # Clip-detail questions need the clip captions.
    clip_detail = ("clip_action",)
    assert accuracy(videos, 41, "clip", clip_detail) >= accuracy(videos, 41, "segment+video", clip_detail) + 0.2
    assert accuracy(videos, 41, "hierarchical") >= accuracy(videos, 41, "clip") + 0.15


@pytest.mark.parametrize("kinds, message", [(("sideways",), "Unknown question kind 'sideways'")])
def test_unknown_kind(kinds, message):
    with pytest.raises(ValueError, match=message):
        make_synthetic_questions(plans(1, 1)[0], 0, kinds)
