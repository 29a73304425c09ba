namespace CellSeg.Imaging.Decoding;

/// <summary>
/// Decoded pixels as float RGB in [0, 1], interleaved and row-major: the sample of channel c (0 = R, 1 = G, 2 = B)
/// at column x and row y is <c>Rgb[((y * Width) + x) * 3 + c]</c>, row 0 at the top. Grey images carry the same
/// value in all three channels; alpha is dropped without compositing.
/// An image may hold its samples in a pooled array: <see cref="Dispose"/> gives it back, after which the image must
/// not be read. Not disposing is safe (the array is then collected like any other).
/// </summary>
public sealed class DecodedImage : IDisposable
{
    private float[] _rgb;
    private readonly bool _pooled;

    public DecodedImage(int width, int height, float[] rgb)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentNullException.ThrowIfNull(rgb);
        if (rgb.LongLength != (long)width * height * 3)
        {
            throw new ArgumentException($"Expected {(long)width * height * 3} samples for {width} × {height} RGB, got {rgb.LongLength}.", nameof(rgb));
        }

        Width = width;
        Height = height;
        _rgb = rgb;
    }

    private DecodedImage(int width, int height, float[] pooled, bool isPooled)
    {
        Width = width;
        Height = height;
        _rgb = pooled;
        _pooled = isPooled;
    }

    /// <summary>An image whose samples live in an array rented from <see cref="System.Buffers.ArrayPool{T}.Shared"/>.</summary>
    internal static DecodedImage RentPooled(int width, int height) =>
        new(width, height, System.Buffers.ArrayPool<float>.Shared.Rent(checked(width * height * 3)), isPooled: true);

    /// <summary>The samples, writable: for the decoder that fills a pooled image.</summary>
    internal Span<float> Samples => _rgb.AsSpan(0, Width * Height * 3);

    public int Width { get; }

    public int Height { get; }

    public ReadOnlySpan<float> Rgb => _rgb.AsSpan(0, Width * Height * 3);

    /// <summary>One sample; for tests and diagnostics, not for loops over the image.</summary>
    public float this[int x, int y, int channel] => _rgb[(((y * Width) + x) * 3) + channel];

    public void Dispose()
    {
        if (_pooled && _rgb.Length > 0)
        {
            System.Buffers.ArrayPool<float>.Shared.Return(_rgb);
            _rgb = [];
        }
    }
}
