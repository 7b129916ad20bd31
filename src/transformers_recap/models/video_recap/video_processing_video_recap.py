# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Video processor of Video ReCap: clip frames to `pixel_values_videos`."""

import torch
from transformers.image_processing_utils import BatchFeature
from transformers.image_utils import PILImageResampling, SizeDict
from transformers.processing_utils import VideosKwargs
from transformers.utils import TensorType
from transformers.video_processing_utils import BaseVideoProcessor
from transformers.video_utils import group_videos_by_shape, reorder_videos


# LaViLa's normalisation on the 0..255 scale, which the released encoder was trained with: CLIP's mean/std x 255,
# except the red mean, which is CLIP's 0.48145466 x 225 (a typo in LaViLa that the weights depend on).
VIDEO_RECAP_MEAN = [108.3272985, 116.7460125, 104.09373615]
VIDEO_RECAP_STD = [68.5005327, 66.6321579, 70.32316305]


class VideoReCapVideoProcessorKwargs(VideosKwargs, total=False):
    """
    antialias (`bool`, *optional*):
        Whether the resize low-pass filters (off in the original's torchvision, which resized float frames without
        antialiasing).
    """

    antialias: bool


class VideoReCapVideoProcessor(BaseVideoProcessor):
    r"""
    Turns clips of RGB frames (`(num_frames, height, width, 3)` uint8 arrays or tensors, already sampled, 4 per 4-s clip
    in the released model) into `pixel_values_videos` of shape `(batch_size, num_frames, 3, 224, 224)`, as the
    original evaluation transform does: frames are converted to float on the 0..255 scale, the short side is resized to
    224 (bilinear), the centre 224x224 is cropped, and each channel is normalised with LaViLa's 0..255 mean and std.
    """

    resample = PILImageResampling.BILINEAR
    image_mean = VIDEO_RECAP_MEAN
    image_std = VIDEO_RECAP_STD
    size = {"shortest_edge": 224}
    default_to_square = False
    crop_size = {"height": 224, "width": 224}
    do_resize = True
    do_center_crop = True
    do_rescale = False
    do_normalize = True
    do_convert_rgb = True
    do_sample_frames = False
    num_frames = 4
    antialias = False
    valid_kwargs = VideoReCapVideoProcessorKwargs
    model_input_names = ["pixel_values_videos"]

    def _preprocess(
        self,
        videos: list[torch.Tensor],
        do_resize: bool,
        size: SizeDict,
        resample: PILImageResampling | None,
        do_center_crop: bool,
        crop_size: SizeDict,
        do_rescale: bool,
        rescale_factor: float,
        do_normalize: bool,
        image_mean: float | list[float] | None,
        image_std: float | list[float] | None,
        antialias: bool | None = None,
        return_tensors: str | TensorType | None = None,
        **kwargs,
    ) -> BatchFeature:
        # Unlike the base class, resize float frames (the original casts to float32 before resizing, so the resized
        # values are not rounded to integers) and honour `antialias`.
        antialias = self.antialias if antialias is None else antialias
        grouped_videos, grouped_videos_index = group_videos_by_shape(videos)
        processed_groups = {}
        for shape, stacked_videos in grouped_videos.items():
            stacked_videos = stacked_videos.to(torch.float32)
            if do_resize:
                stacked_videos = self.resize(stacked_videos, size=size, resample=resample, antialias=antialias)
            if do_center_crop:
                stacked_videos = self.center_crop(stacked_videos, crop_size)
            processed_groups[shape] = self.rescale_and_normalize(
                stacked_videos, do_rescale, rescale_factor, do_normalize, image_mean, image_std
            )
        processed_videos = reorder_videos(processed_groups, grouped_videos_index)
        return BatchFeature(data={"pixel_values_videos": processed_videos}, tensor_type=return_tensors)


VideoReCapVideoProcessor.register_for_auto_class("AutoVideoProcessor")


__all__ = ["VIDEO_RECAP_MEAN", "VIDEO_RECAP_STD", "VideoReCapVideoProcessor"]
