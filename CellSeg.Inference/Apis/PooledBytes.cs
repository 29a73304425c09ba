using System.Buffers;

namespace CellSeg.Inference.Apis;

/// <summary>
/// A request's image bytes in an array rented from <see cref="ArrayPool{T}.Shared"/>: most images are larger than
/// the large-object threshold, and a fresh array per request kept the GC busy at serving rates.
/// </summary>
internal sealed class PooledBytes : IDisposable
{
    private byte[] _buffer;
    private readonly int _length;

    private PooledBytes(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
    }

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, _length);

    /// <summary>Reads the whole stream; null when it holds more than <paramref name="maxBytes"/>.</summary>
    public static async Task<PooledBytes?> ReadAsync(Stream stream, long? declaredLength, long maxBytes, CancellationToken cancellationToken)
    {
        var capacity = (int)Math.Min(maxBytes + 1, declaredLength is > 0 and var declared ? declared + 1 : 64 * 1024);
        var buffer = ArrayPool<byte>.Shared.Rent(capacity);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxBytes)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        return null;
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(maxBytes + 1, (long)buffer.Length * 2));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        if (length > maxBytes)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return null;
        }

        return new PooledBytes(buffer, length);
    }

    public void Dispose()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }
}
