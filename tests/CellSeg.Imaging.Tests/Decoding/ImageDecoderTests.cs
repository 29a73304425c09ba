using BitMiracle.LibTiff.Classic;
using CellSeg.Imaging.Decoding;
using SkiaSharp;

namespace CellSeg.Imaging.Tests.Decoding;

public sealed class ImageDecoderTests
{
    // 8-bit samples come back as value / 255; lossless formats must match to float rounding.
    private const float Exact = 1e-6f;

    [Fact]
    public void GreyPngDecodesToReplicatedRgbWithExactValues()
    {
        var image = ImageDecoder.Decode(TestImageFiles.EncodeWithSkia(13, 7, grey: true, SKEncodedImageFormat.Png));

        Assert.Equal(13, image.Width);
        Assert.Equal(7, image.Height);
        AssertGreyRamp(image);
    }

    [Fact]
    public void DecodedImageGivesItsPooledSamplesBackAndCannotBeReadAfterwards()
    {
        var image = ImageDecoder.Decode(TestImageFiles.EncodeWithSkia(13, 7, grey: true, SKEncodedImageFormat.Png));
        Assert.Equal(13 * 7 * 3, image.Rgb.Length);

        image.Dispose();
        image.Dispose();

        Assert.Throws<ArgumentOutOfRangeException>(() => image.Rgb.Length);
    }

    [Fact]
    public void RgbPngDecodesWithChannelsInOrder()
    {
        var image = ImageDecoder.Decode(TestImageFiles.EncodeWithSkia(11, 9, grey: false, SKEncodedImageFormat.Png));

        Assert.Equal((11, 9), (image.Width, image.Height));
        AssertColourPattern(image);
    }

    [Fact]
    public void JpegDecodesToItsSizeWithValuesWithinCompressionError()
    {
        // A flat colour survives JPEG at quality 100 to within a few levels.
        var info = new SKImageInfo(24, 16, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        bitmap.Erase(new SKColor(200, 100, 50));
        using var encoded = bitmap.Encode(SKEncodedImageFormat.Jpeg, 100);

        var image = ImageDecoder.Decode(encoded.ToArray());

        Assert.Equal((24, 16), (image.Width, image.Height));
        Assert.Equal(200 / 255f, image[5, 5, 0], 0.02f);
        Assert.Equal(100 / 255f, image[5, 5, 1], 0.02f);
        Assert.Equal(50 / 255f, image[5, 5, 2], 0.02f);
    }

    [Fact]
    public void CmykJpegDecodesToItsRgbColour()
    {
        // An 8 × 8 Adobe CMYK JPEG of rgb(200, 100, 50), made once with ImageMagick's
        // "convert -size 8x8 xc:'rgb(200,100,50)' -colorspace CMYK -quality 95"; Skia has no CMYK encoder.
        var cmyk = Convert.FromBase64String(
            "/9j/7gAOQWRvYmUAZAAAAAAC/9sAQwACAQEBAQECAQEBAgICAgIEAwICAgIFBAQDBAYFBgYGBQYGBgcJCAYHCQcGBggLCAkKCgoKCgYI" +
            "CwwLCgwJCgoK/9sAQwECAgICAgIFAwMFCgcGBwoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoK" +
            "/8AAFAgACAAIBAERAAIRAQMRAQQRAP/EABUAAQEAAAAAAAAAAAAAAAAAAAcJ/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/EABUBAQEAAAAA" +
            "AAAAAAAAAAAAAAgJ/8QAFBEBAAAAAAAAAAAAAAAAAAAAAP/aAA4EAQACEQMRBAAAPwADNROtSB//2Q==");

        var header = ImageHeaderReader.Read(cmyk);
        var image = ImageDecoder.Decode(cmyk);

        Assert.Equal(4, header.Channels);
        Assert.Equal(200 / 255f, image[3, 3, 0], 0.01f);
        Assert.Equal(100 / 255f, image[3, 3, 1], 0.01f);
        Assert.Equal(50 / 255f, image[3, 3, 2], 0.01f);
    }

    [Fact]
    public void BottomUpBmpDecodesWithRowZeroAtTheTop()
    {
        var image = ImageDecoder.Decode(TestImageFiles.Bmp24(5, 4));

        Assert.Equal((5, 4), (image.Width, image.Height));
        AssertColourPattern(image);
    }

    [Fact]
    public void SixteenBitPngIsStretchedBetweenItsMinimumAndMaximum()
    {
        // 12-bit data (1000..4000) in a 16-bit container; Skia's half-float path keeps it to about 1/2000.
        var png = TestImageFiles.SixteenBitPng(4, 1, (x, _) => (ushort)(1000 + (x * 1000)));
        var minMax = new ImageDecodeOptions { HighBitDepthLowPercentile = 0, HighBitDepthHighPercentile = 100 };

        var image = ImageDecoder.Decode(png, minMax);

        Assert.Equal(0f, image[0, 0, 0], 0.002f);
        Assert.Equal(1 / 3f, image[1, 0, 1], 0.002f);
        Assert.Equal(2 / 3f, image[2, 0, 2], 0.002f);
        Assert.Equal(1f, image[3, 0, 0], 0.002f);
    }

    [Fact]
    public void EightBitGreyTiffDecodesExactly()
    {
        var tiff = TestImageFiles.Tiff(new TestImageFiles.TiffPage(9, 8, 8, 1, (x, y, _) => TestImageFiles.GreyRamp(x, y)));

        var image = ImageDecoder.Decode(tiff);

        Assert.Equal((9, 8), (image.Width, image.Height));
        AssertGreyRamp(image);
    }

    [Fact]
    public void RgbTiffDecodesWithChannelsInOrder()
    {
        var tiff = TestImageFiles.Tiff(new TestImageFiles.TiffPage(7, 6, 8, 3, ColourSample));

        AssertColourPattern(ImageDecoder.Decode(tiff));
    }

    [Fact]
    public void PlanarRgbTiffDecodesLikeChunkyRgb()
    {
        var tiff = TestImageFiles.Tiff(new TestImageFiles.TiffPage(7, 6, 8, 3, ColourSample) { Planar = true });

        AssertColourPattern(ImageDecoder.Decode(tiff));
    }

    [Fact]
    public void TiledRgbTiffWithPartialEdgeTilesDecodes()
    {
        var tiff = TestImageFiles.Tiff(new TestImageFiles.TiffPage(40, 20, 8, 3, ColourSample) { TileSize = 16 });

        var image = ImageDecoder.Decode(tiff);

        Assert.Equal((40, 20), (image.Width, image.Height));
        AssertColourPattern(image);
    }

    [Fact]
    public void CompressedTiffDecodes()
    {
        var tiff = TestImageFiles.Tiff(
            new TestImageFiles.TiffPage(9, 8, 8, 1, (x, y, _) => TestImageFiles.GreyRamp(x, y)) { Compression = Compression.LZW });

        AssertGreyRamp(ImageDecoder.Decode(tiff));
    }

    [Fact]
    public void SixteenBitGreyTiffIsStretchedBetweenItsMinimumAndMaximum()
    {
        // Twelve-bit values 100..4000 in a 16-bit container.
        var tiff = TestImageFiles.Tiff(new TestImageFiles.TiffPage(40, 1, 16, 1, (x, _, _) => 100 + (x * 100)));
        var minMax = new ImageDecodeOptions { HighBitDepthLowPercentile = 0, HighBitDepthHighPercentile = 100 };

        var image = ImageDecoder.Decode(tiff, minMax);

        Assert.Equal(0f, image[0, 0, 0], Exact);
        Assert.Equal(1900f / 3900f, image[19, 0, 1], Exact);
        Assert.Equal(1f, image[39, 0, 2], Exact);
    }

    [Fact]
    public void SixteenBitTiffDefaultStretchClipsOneHotPixelAbovePercentile99Point9()
    {
        // 2000 pixels at 1000..1999 plus two hot pixels at 60000: the 99.9th percentile ignores the hot pixels,
        // so the ramp still spans nearly the whole range instead of being squashed near 0.
        var tiff = TestImageFiles.Tiff(new TestImageFiles.TiffPage(2002, 1, 16, 1, (x, _, _) => x < 2000 ? 1000 + x : 60000));

        var image = ImageDecoder.Decode(tiff);

        Assert.Equal(1f, image[2001, 0, 0], Exact);
        Assert.True(image[1990, 0, 0] > 0.98f, $"near-top ramp value {image[1990, 0, 0]} should be close to 1");
        Assert.Equal(0f, image[0, 0, 0], Exact);
    }

    [Fact]
    public void BigEndianSixteenBitTiffDecodesLikeLittleEndian()
    {
        var page = new TestImageFiles.TiffPage(10, 3, 16, 1, (x, y, _) => 500 + (x * 37) + (y * 11));
        var minMax = new ImageDecodeOptions { HighBitDepthLowPercentile = 0, HighBitDepthHighPercentile = 100 };

        var little = ImageDecoder.Decode(TestImageFiles.Tiff(bigEndian: false, page), minMax);
        var big = ImageDecoder.Decode(TestImageFiles.Tiff(bigEndian: true, page), minMax);

        Assert.Equal(little.Rgb.ToArray(), big.Rgb.ToArray());
        Assert.Equal((500 + 37 - 500) / (float)(500 + (9 * 37) + 22 - 500), little[1, 0, 0], Exact);
    }

    [Fact]
    public void SixteenBitTiledPlanarTiffDecodesLikeTheStretchOfItsSamples()
    {
        var page = new TestImageFiles.TiffPage(20, 18, 16, 3, (x, y, s) => 1000 + (x * 100) + (y * 10) + s) { TileSize = 16, Planar = true };
        var minMax = new ImageDecodeOptions { HighBitDepthLowPercentile = 0, HighBitDepthHighPercentile = 100 };

        var image = ImageDecoder.Decode(TestImageFiles.Tiff(page), minMax);

        // Samples span 1000 (x = y = s = 0) to 1000 + 1900 + 170 + 2.
        Assert.Equal(0f, image[0, 0, 0], Exact);
        Assert.Equal((1700 + 160 + 1) / 2072f, image[17, 16, 1], Exact);
        Assert.Equal(1f, image[19, 17, 2], Exact);
    }

    [Fact]
    public void BigTiffDecodes()
    {
        var tiff = TestImageFiles.BigTiff(new TestImageFiles.TiffPage(7, 6, 8, 3, ColourSample));

        AssertColourPattern(ImageDecoder.Decode(tiff));
    }

    [Fact]
    public void SixteenBitRgbTiffKeepsChannelBalance()
    {
        // One stretch for all channels: a pixel with R = 2 × G keeps that ratio above the common minimum of 0.
        var tiff = TestImageFiles.Tiff(new TestImageFiles.TiffPage(2, 1, 16, 3, (x, _, s) => x == 0 ? 0 : (s + 1) * 1000));
        var minMax = new ImageDecodeOptions { HighBitDepthLowPercentile = 0, HighBitDepthHighPercentile = 100 };

        var image = ImageDecoder.Decode(tiff, minMax);

        Assert.Equal(1 / 3f, image[1, 0, 0], Exact);
        Assert.Equal(2 / 3f, image[1, 0, 1], Exact);
        Assert.Equal(1f, image[1, 0, 2], Exact);
    }

    [Fact]
    public void MultiPageTiffDecodesTheFirstPage()
    {
        var tiff = TestImageFiles.Tiff(
            new TestImageFiles.TiffPage(6, 5, 8, 1, (_, _, _) => 51),
            new TestImageFiles.TiffPage(8, 8, 8, 1, (_, _, _) => 204));

        var image = ImageDecoder.Decode(tiff);

        Assert.Equal((6, 5), (image.Width, image.Height));
        Assert.Equal(51 / 255f, image[3, 3, 1], Exact);
    }

    [Fact]
    public void MinIsWhiteTiffIsInverted()
    {
        var tiff = TestImageFiles.Tiff(
            new TestImageFiles.TiffPage(2, 1, 8, 1, (x, _, _) => x == 0 ? 0 : 200) { Photometric = Photometric.MINISWHITE });

        var image = ImageDecoder.Decode(tiff);

        Assert.Equal(1f, image[0, 0, 0], Exact);
        Assert.Equal(55 / 255f, image[1, 0, 0], Exact);
    }

    [Fact]
    public void EmptyDataFailsWithEmpty()
    {
        var exception = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode([]));

        Assert.Equal(ImageDecodeError.Empty, exception.Error);
        Assert.False(string.IsNullOrWhiteSpace(exception.Reason));
    }

    [Fact]
    public void UnknownMagicFailsWithUnsupportedFormat()
    {
        var exception = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode("GIF89a and some more bytes"u8.ToArray()));

        Assert.Equal(ImageDecodeError.UnsupportedFormat, exception.Error);
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png)]
    [InlineData(SKEncodedImageFormat.Jpeg)]
    public void SkiaFileCutInHalfFailsWithTruncated(SKEncodedImageFormat format)
    {
        var full = TestImageFiles.EncodeWithSkia(64, 64, grey: false, format, quality: 90);

        var exception = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(full.AsSpan(0, full.Length / 2)));

        Assert.Equal(ImageDecodeError.Truncated, exception.Error);
    }

    [Fact]
    public void BmpCutInHalfFailsWithTruncated()
    {
        var full = TestImageFiles.Bmp24(64, 64);

        var exception = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(full.AsSpan(0, full.Length / 2)));

        Assert.Equal(ImageDecodeError.Truncated, exception.Error);
    }

    [Fact]
    public void TiffCutBeforeItsDirectoryFailsWithTruncated()
    {
        // LibTiff writes the pixel data first and the directory last.
        var full = TestImageFiles.Tiff(new TestImageFiles.TiffPage(64, 64, 8, 1, (x, y, _) => x + y));

        var exception = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(full.AsSpan(0, full.Length / 2)));

        Assert.Equal(ImageDecodeError.Truncated, exception.Error);
    }

    [Fact]
    public void TiffWhoseStripsPointPastTheEndFailsWithCorrupt()
    {
        var tiff = TestImageFiles.Tiff(new TestImageFiles.TiffPage(64, 64, 8, 1, (x, y, _) => x + y));
        TestImageFiles.PointStripsPastTheEnd(tiff);

        var exception = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(tiff));

        Assert.Equal(ImageDecodeError.Corrupt, exception.Error);
        Assert.StartsWith("Row 0 of the TIFF could not be read", exception.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void PngHeaderClaiming100000By100000FailsFastWithTooLarge()
    {
        var before = GC.GetAllocatedBytesForCurrentThread();

        var exception = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(TestImageFiles.PngHeaderOnly(100_000, 100_000)));

        // Decoding would need 120 GB of floats; the rejection must come from the header alone.
        Assert.Equal(ImageDecodeError.TooLarge, exception.Error);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1_000_000, "rejecting the header must not allocate pixel memory");
    }

    [Fact]
    public void FileLargerThanMaxBytesFailsWithTooLarge()
    {
        var png = TestImageFiles.EncodeWithSkia(8, 8, grey: true, SKEncodedImageFormat.Png);

        var exception = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png, new ImageDecodeOptions { MaxBytes = 10 }));

        Assert.Equal(ImageDecodeError.TooLarge, exception.Error);
    }

    [Fact]
    public void ImageAboveACustomPixelLimitFailsWithTooLarge()
    {
        var tiff = TestImageFiles.Tiff(new TestImageFiles.TiffPage(20, 20, 8, 1, (_, _, _) => 0));

        var exception = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(tiff, new ImageDecodeOptions { MaxPixels = 399 }));

        Assert.Equal(ImageDecodeError.TooLarge, exception.Error);
    }

    [Fact]
    public void PngWithCorruptPixelDataFailsWithoutCrashing()
    {
        var png = TestImageFiles.EncodeWithSkia(32, 32, grey: false, SKEncodedImageFormat.Png);
        for (var i = 60; i < png.Length - 20; i += 3)
        {
            png[i] ^= 0x5A;
        }

        var exception = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png));

        Assert.False(string.IsNullOrWhiteSpace(exception.Reason));
    }

    private static int ColourSample(int x, int y, int channel)
    {
        var (r, g, b) = TestImageFiles.ColourPattern(x, y);
        return channel switch { 0 => r, 1 => g, _ => b };
    }

    private static void AssertGreyRamp(DecodedImage image)
    {
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                var expected = TestImageFiles.GreyRamp(x, y) / 255f;
                for (var c = 0; c < 3; c++)
                {
                    Assert.Equal(expected, image[x, y, c], Exact);
                }
            }
        }
    }

    private static void AssertColourPattern(DecodedImage image)
    {
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                var (r, g, b) = TestImageFiles.ColourPattern(x, y);
                Assert.Equal(r / 255f, image[x, y, 0], Exact);
                Assert.Equal(g / 255f, image[x, y, 1], Exact);
                Assert.Equal(b / 255f, image[x, y, 2], Exact);
            }
        }
    }
}
