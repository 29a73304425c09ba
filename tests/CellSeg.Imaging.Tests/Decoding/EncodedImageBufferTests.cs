using CellSeg.Imaging.Decoding;

namespace CellSeg.Imaging.Tests.Decoding;

public sealed class EncodedImageBufferTests
{
    [Fact]
    public async Task ReadsAStreamLargerThanItsFirstArrayByteForByte()
    {
        var bytes = Enumerable.Range(0, 10_000).Select(i => (byte)(i * 7)).ToArray();
        using var buffer = new EncodedImageBuffer(initialCapacity: 100);

        Assert.True(await buffer.FillAsync(new MemoryStream(bytes), limit: 10_000, TestContext.Current.CancellationToken));

        Assert.Equal(bytes, buffer.Data.ToArray());
    }

    [Fact]
    public async Task RefusesAStreamOneByteOverTheLimitAndReadsTheNextFileAfresh()
    {
        var ct = TestContext.Current.CancellationToken;
        using var buffer = new EncodedImageBuffer(initialCapacity: 16);

        Assert.False(await buffer.FillAsync(new MemoryStream(new byte[1001]), limit: 1000, ct));
        Assert.True(await buffer.FillAsync(new MemoryStream([1, 2, 3]), limit: 1000, ct));

        Assert.Equal([1, 2, 3], buffer.Data.ToArray());
    }
}
