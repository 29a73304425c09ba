namespace CellSeg.Imaging.Decoding;

/// <summary>Why a file could not be read; stable enough for an API to map to status codes.</summary>
public enum ImageDecodeError
{
    /// <summary>No bytes at all.</summary>
    Empty,

    /// <summary>The magic bytes match no supported format, or the format uses a feature that is not supported.</summary>
    UnsupportedFormat,

    /// <summary>The data ends before the header or the pixels do.</summary>
    Truncated,

    /// <summary>The header declares a zero, negative or impossible size.</summary>
    InvalidDimensions,

    /// <summary>The file or its pixel count exceeds the configured limits (a decompression bomb, for instance).</summary>
    TooLarge,

    /// <summary>The structure is inconsistent or the codec rejected the data.</summary>
    Corrupt,
}

/// <summary>A failure as a value, for callers that validate without exceptions.</summary>
public sealed record ImageDecodeFailure(ImageDecodeError Error, string Reason);
