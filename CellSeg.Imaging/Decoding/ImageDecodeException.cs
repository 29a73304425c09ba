namespace CellSeg.Imaging.Decoding;

/// <summary>The single exception type that header reading and decoding throw for bad input.</summary>
public sealed class ImageDecodeException : Exception
{
    public ImageDecodeException(ImageDecodeError error, string reason, Exception? innerException = null)
        : base(reason, innerException)
    {
        Error = error;
        Reason = reason;
    }

    public ImageDecodeException(ImageDecodeFailure failure)
        : this(failure.Error, failure.Reason)
    {
    }

    public ImageDecodeError Error { get; }

    /// <summary>A sentence fit to show the person who uploaded the file.</summary>
    public string Reason { get; }
}
