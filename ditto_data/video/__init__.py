"""Video I/O for ditto-data: probe, decode (torchcodec / PyAV / decord behind one API), encode.

Knows nothing of datasets: paths in, arrays and files out. Errors are :class:`VideoError`, whose
message names the file and what failed; an FFmpeg killed by another process raises
:class:`FFmpegKilled` instead, since that says nothing about the video.
"""

from .decoders import VideoDecoder, VideoMetadata, available_backends, read_frames
from .encode import encode_video
from .errors import VideoError
from .ffmpeg import FFmpegKilled
from .probe import VideoInfo, probe

__all__ = ["probe", "VideoInfo", "VideoError", "FFmpegKilled", "VideoDecoder", "VideoMetadata", "read_frames",
           "encode_video", "available_backends"]
