using System.Buffers;

namespace CellSeg.Imaging.Decoding;

/// <summary>
/// An encoded image's bytes, read from a stream into an array from the shared pool that grows as the file turns out
/// larger: most images are over the large-object threshold, and a fresh array per file kept the GC busy at upload
/// and serving rates. Reusable for one file after another; <see cref="Dispose"/> gives the array back.
/// </summary>
public sealed class EncodedImageBuffer(int initialCapacity = 256 * 1024) : IDisposable
{
    private byte[] _array = ArrayPool<byte>.Shared.Rent(Math.Max(1, initialCapacity));
    private int _length;

    /// <summary>The bytes the last <see cref="FillAsync"/> read; valid until the next fill or disposal.</summary>
    public ReadOnlyMemory<byte> Data => _array.AsMemory(0, _length);

    /// <summary>Reads the whole stream, or returns false as soon as it proves longer than <paramref name="limit"/>.</summary>
    public async Task<bool> FillAsync(Stream stream, long limit, CancellationToken cancellationToken)
    {
        _length = 0;
        while (_length <= limit)
        {
            if (_length == _array.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(_array.Length * 2L, limit + 1));
                _array.AsSpan(0, _length).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_array);
                _array = larger;
            }

            var room = (int)Math.Min(_array.Length - _length, limit + 1 - _length);
            var read = await stream.ReadAsync(_array.AsMemory(_length, room), cancellationToken);
            if (read == 0)
            {
                return true;
            }

            _length += read;
        }

        return false;
    }

    public void Dispose()
    {
        if (_array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = [];
            _length = 0;
        }
    }
}
