using System.Buffers.Binary;
using BitMiracle.LibTiff.Classic;
using CellSeg.Imaging.Decoding;
using SkiaSharp;

namespace CellSeg.Imaging.Tests.Decoding;

public sealed class ImageHeaderReaderTests
{
    [Fact]
    public void GreyPngHeaderGivesSizeAndOneEightBitChannel()
    {
        var info = ImageHeaderReader.Read(TestImageFiles.EncodeWithSkia(13, 7, grey: true, SKEncodedImageFormat.Png));

        Assert.Equal(new ImageInfo(ImageFormat.Png, 13, 7, 8, 1), info);
    }

    [Fact]
    public void SixteenBitPngHeaderReportsSixteenBits()
    {
        var info = ImageHeaderReader.Read(TestImageFiles.SixteenBitPng(3, 2, (_, _) => 1000));

        Assert.Equal(ImageFormat.Png, info.Format);
        Assert.Equal((3, 2, 16), (info.Width, info.Height, info.BitsPerChannel));
    }

    [Fact]
    public void JpegHeaderIsFoundAfterApplicationSegments()
    {
        var jpeg = TestImageFiles.EncodeWithSkia(31, 17, grey: false, SKEncodedImageFormat.Jpeg, quality: 80);

        var info = ImageHeaderReader.Read(jpeg);

        Assert.Equal(new ImageInfo(ImageFormat.Jpeg, 31, 17, 8, 3), info);
    }

    [Fact]
    public void BmpHeaderGivesSizeAndThreeChannels()
    {
        var info = ImageHeaderReader.Read(TestImageFiles.Bmp24(5, 4));

        Assert.Equal(new ImageInfo(ImageFormat.Bmp, 5, 4, 8, 3), info);
    }

    [Fact]
    public void TopDownBmpWithNegativeHeightReportsPositiveHeight()
    {
        var bmp = TestImageFiles.Bmp24(5, 4);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), -4);

        Assert.Equal(4, ImageHeaderReader.Read(bmp).Height);
    }

    [Fact]
    public void SixteenBitGreyTiffHeaderIsReadFromTheFirstDirectory()
    {
        var tiff = TestImageFiles.Tiff(new TestImageFiles.TiffPage(21, 12, 16, 1, (_, _, _) => 0));

        Assert.Equal(new ImageInfo(ImageFormat.Tiff, 21, 12, 16, 1), ImageHeaderReader.Read(tiff));
    }

    [Fact]
    public void BigEndianRgbTiffHeaderReadsBitsPerSampleFromItsOffset()
    {
        // Three BitsPerSample shorts do not fit in the entry, so they sit behind an offset.
        var tiff = TestImageFiles.Tiff(bigEndian: true, new TestImageFiles.TiffPage(1, 70000, 8, 3, (_, _, _) => 0));

        Assert.Equal(new ImageInfo(ImageFormat.Tiff, 1, 70000, 8, 3), ImageHeaderReader.Read(tiff));
    }

    [Fact]
    public void BigTiffHeaderIsReadWithSixtyFourBitOffsets()
    {
        var tiff = TestImageFiles.BigTiff(new TestImageFiles.TiffPage(30, 20, 16, 3, (_, _, _) => 0));

        Assert.Equal(0x2B, tiff[2]);
        Assert.Equal(new ImageInfo(ImageFormat.Tiff, 30, 20, 16, 3), ImageHeaderReader.Read(tiff));
    }

    [Fact]
    public void MultiPageTiffHeaderDescribesThePageTheDecoderReads()
    {
        var tiff = TestImageFiles.Tiff(
            new TestImageFiles.TiffPage(6, 5, 8, 1, (_, _, _) => 0),
            new TestImageFiles.TiffPage(8, 8, 16, 3, (_, _, _) => 0));

        Assert.Equal(new ImageInfo(ImageFormat.Tiff, 6, 5, 8, 1), ImageHeaderReader.Read(tiff));
    }

    [Fact]
    public void PaletteTiffCountsThreeChannels()
    {
        var tiff = TestImageFiles.Tiff(new TestImageFiles.TiffPage(4, 4, 8, 1, (_, _, _) => 0) { Photometric = Photometric.PALETTE });

        Assert.Equal(3, ImageHeaderReader.Read(tiff).Channels);
    }

    [Fact]
    public void PngHeaderClaiming100000By100000IsRejectedAsTooLarge()
    {
        var ok = ImageHeaderReader.TryRead(TestImageFiles.PngHeaderOnly(100_000, 100_000), null, out var info, out var failure);

        Assert.False(ok);
        Assert.Null(info);
        Assert.Equal(ImageDecodeError.TooLarge, failure!.Error);
        Assert.Contains("100,000", failure.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ZeroWidthPngIsRejectedAsInvalidDimensions()
    {
        var exception = Assert.Throws<ImageDecodeException>(() => ImageHeaderReader.Read(TestImageFiles.PngHeaderOnly(0, 10)));

        Assert.Equal(ImageDecodeError.InvalidDimensions, exception.Error);
    }

    [Fact]
    public void PngWidthAboveTwoToTheThirtyOneIsRejectedAsInvalidDimensions()
    {
        var exception = Assert.Throws<ImageDecodeException>(() => ImageHeaderReader.Read(TestImageFiles.PngHeaderOnly(0x8000_0000, 1)));

        Assert.Equal(ImageDecodeError.InvalidDimensions, exception.Error);
    }

    [Fact]
    public void NegativeWidthBmpIsRejectedAsInvalidDimensions()
    {
        var bmp = TestImageFiles.Bmp24(5, 4);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), -5);

        var exception = Assert.Throws<ImageDecodeException>(() => ImageHeaderReader.Read(bmp));

        Assert.Equal(ImageDecodeError.InvalidDimensions, exception.Error);
    }

    [Fact]
    public void PngWithAnInvalidColourTypeIsCorrupt()
    {
        var exception = Assert.Throws<ImageDecodeException>(() => ImageHeaderReader.Read(TestImageFiles.PngHeaderOnly(4, 4, bitDepth: 16, colourType: 3)));

        Assert.Equal(ImageDecodeError.Corrupt, exception.Error);
    }

    [Theory]
    [InlineData(ImageFormat.Png, 20)]
    [InlineData(ImageFormat.Jpeg, 30)]
    [InlineData(ImageFormat.Bmp, 24)]
    [InlineData(ImageFormat.Tiff, 6)]
    [InlineData(ImageFormat.Png, 5)]
    public void HeaderCutShortIsRejectedAsTruncated(ImageFormat format, int keptBytes)
    {
        var file = format switch
        {
            ImageFormat.Png => TestImageFiles.EncodeWithSkia(8, 8, grey: true, SKEncodedImageFormat.Png),
            ImageFormat.Jpeg => TestImageFiles.EncodeWithSkia(8, 8, grey: false, SKEncodedImageFormat.Jpeg),
            ImageFormat.Bmp => TestImageFiles.Bmp24(8, 8),
            _ => TestImageFiles.Tiff(new TestImageFiles.TiffPage(8, 8, 8, 1, (_, _, _) => 0)),
        };

        var exception = Assert.Throws<ImageDecodeException>(() => ImageHeaderReader.Read(file.AsSpan(0, keptBytes)));

        Assert.Equal(ImageDecodeError.Truncated, exception.Error);
    }

    [Fact]
    public void TiffWhoseDirectoryLiesPastTheDataIsTruncated()
    {
        var tiff = TestImageFiles.Tiff(new TestImageFiles.TiffPage(8, 8, 8, 1, (_, _, _) => 0));

        var exception = Assert.Throws<ImageDecodeException>(() => ImageHeaderReader.Read(tiff.AsSpan(0, 64)));

        Assert.Equal(ImageDecodeError.Truncated, exception.Error);
    }

    [Fact]
    public void EmptyInputIsRejectedAsEmpty()
    {
        Assert.False(ImageHeaderReader.TryRead([], null, out _, out var failure));

        Assert.Equal(ImageDecodeError.Empty, failure.Error);
    }

    [Fact]
    public void WrongMagicIsRejectedAsUnsupportedFormatWhateverTheContent()
    {
        var png = TestImageFiles.EncodeWithSkia(8, 8, grey: true, SKEncodedImageFormat.Png);
        png[1] = (byte)'X';

        var exception = Assert.Throws<ImageDecodeException>(() => ImageHeaderReader.Read(png));

        Assert.Equal(ImageDecodeError.UnsupportedFormat, exception.Error);
        Assert.Contains("PNG, JPEG, BMP or TIFF", exception.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void JpegWithoutAFrameHeaderBeforeItsScanIsCorrupt()
    {
        // SOI, then straight to SOS.
        byte[] jpeg = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0];

        var exception = Assert.Throws<ImageDecodeException>(() => ImageHeaderReader.Read(jpeg));

        Assert.Equal(ImageDecodeError.Corrupt, exception.Error);
    }

    [Fact]
    public void FormatIsDetectedFromMagicBytesOnly()
    {
        Assert.Equal(ImageFormat.Png, ImageFormatDetector.Detect(TestImageFiles.PngHeaderOnly(1, 1)));
        Assert.Equal(ImageFormat.Jpeg, ImageFormatDetector.Detect([0xFF, 0xD8, 0xFF, 0xE0]));
        Assert.Equal(ImageFormat.Tiff, ImageFormatDetector.Detect("MM\0*"u8));
        Assert.Equal(ImageFormat.Bmp, ImageFormatDetector.Detect(TestImageFiles.Bmp24(1, 1)));
        Assert.Null(ImageFormatDetector.Detect("%PDF-1.7"u8));
    }
}
