using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BitMiracle.LibTiff.Classic;
using CellSeg.Inference.Tests.BadInputs;
using CellSeg.LoadGen.Topology;
using Microsoft.AspNetCore.Mvc;

namespace CellSeg.Inference.Tests;

/// <summary>
/// Bad and unusual inputs to the Inference service, each with its documented answer, and a check that the service
/// keeps serving valid images while all of them arrive at once.
/// </summary>
/// <remarks>
/// A problem answer is application/problem+json with that status and title, and a detail that contains the quoted
/// phrase; a 200 is a segmentation of that size with that many objects.
/// <code>
///   #  input                                                                             answer
///
///      Not an image at all
///   1  zero bytes                                                                        422  Unreadable image: "The file is empty."
///   2  4 KiB of random bytes                                                             422  Unreadable image: "match none of these formats"
///   3  a GIF                                                                             422  Unreadable image: "match none of these formats"
///   4  a PDF                                                                             422  Unreadable image: "match none of these formats"
///   5  plain text                                                                        422  Unreadable image: "match none of these formats"
///
///      PNG
///   6  the first 4 bytes of a PNG signature                                              422  Unreadable image: "ends inside its file signature"
///   7  a PNG with only its signature and IHDR chunk                                      422  Unreadable image: "PNG data could not be parsed"
///   8  a PNG cut in the middle of its IDAT chunk                                         422  Unreadable image: "image data ends early"
///   9  a PNG whose IDAT chunk has a wrong CRC                                            422  Unreadable image: "PNG image data is corrupt"
///  10  a PNG whose IDAT chunk holds no zlib stream                                       422  Unreadable image: "The PNG image data"
///  11  a PNG whose first chunk is not IHDR                                               422  Unreadable image: "does not start with a valid IHDR chunk"
///  12  a PNG header with colour type 5                                                   422  Unreadable image: "invalid colour type 5 with bit depth 8"
///  13  a PNG header declaring 0 × 512                                                    422  Unreadable image: "invalid size of 0 × 512"
///  14  a PNG header declaring 512 × 2147483648                                           422  Unreadable image: "invalid size of 512 × 2147483648"
///
///      JPEG
///  15  a JPEG that is only its SOI marker                                                422  Unreadable image: "ends inside its file signature"
///  16  a JPEG that ends before its frame header                                          422  Unreadable image: "no frame header found"
///  17  a JPEG that is only its frame header                                              422  Unreadable image: "JPEG data could not be parsed"
///  18  a JPEG cut in the middle of its scan                                              422  Unreadable image: "image data ends early"
///  19  a JPEG with its scan before its frame header                                      422  Unreadable image: "no frame header before its image data"
///  20  a JPEG frame header declaring a height of 0                                       422  Unreadable image: "declares a height of 0"
///  21  a JPEG frame header declaring a width of 0                                        422  Unreadable image: "invalid size of 0 × 64"
///  22  a JPEG frame header with 2 colour components                                      422  Unreadable image: "declares 2 colour components"
///
///      TIFF
///  23  a TIFF that is only its 8-byte header                                             422  Unreadable image: "ends inside its TIFF directory"
///  24  a TIFF whose first directory lies past its end                                    422  Unreadable image: "ends inside its TIFF directory"
///  25  a TIFF cut before its directory                                                   422  Unreadable image: "ends inside its TIFF directory"
///  26  a TIFF whose strip lies past its end                                              422  Unreadable image: "Row 0 of the TIFF could not be read"
///  27  a TIFF directory without ImageWidth                                               422  Unreadable image: "lacks the ImageWidth or ImageLength tag"
///  28  a TIFF directory declaring 0 × 512                                                422  Unreadable image: "invalid size of 0 × 512"
///  29  a TIFF directory without strips                                                   422  Unreadable image: "StripOffsets"
///  30  a 32-bit float TIFF                                                               422  Unreadable image: "32-bit IEEEFP TIFF samples are not supported"
///  31  a BigTIFF whose first directory is at 2^64 - 1                                    422  Unreadable image: "ends inside its TIFF directory"
///  32  a BigTIFF whose ImageWidth values are at 2^64 - 2                                 422  Unreadable image: "ends inside its TIFF directory values"
///
///      BMP
///  33  a BMP cut inside its information header                                           422  Unreadable image: "ends inside its BMP header"
///  34  a BMP with its headers and no pixels                                              422  Unreadable image: "image data ends early"
///  35  a BMP cut in half                                                                 422  Unreadable image: "image data ends early"
///  36  a BMP header with a bit count of 7                                                422  Unreadable image: "invalid bit count of 7"
///  37  a BMP header declaring 0 × 512                                                    422  Unreadable image: "invalid size of 0 × 512"
///
///      Over Kestrel's default body limit of 30,000,000 bytes but under MaxImageBytes (52,428,800)
///  38  35,000,000 random bytes                                                           422  Unreadable image: "match none of these formats"
///  39  a multipart file of 35,000,000 random bytes                                       422  Unreadable image: "match none of these formats"
///
///      Multipart uploads of unreadable files
///  40  a multipart file of zero bytes                                                    422  Unreadable image: "The file is empty."
///  41  a multipart form whose first file is text and second a PNG                        422  Unreadable image: "match none of these formats"
///
///      Headers declaring more pixels than MaxImagePixels (10^8): refused before any pixel memory is allocated
///  42  a PNG header declaring 100000 × 100000                                            413  Image too large: "100000 × 100000 pixels"
///  43  a 16-bit grey PNG header declaring 100000 × 100000                                413  Image too large: "100000 × 100000 pixels"
///  44  a TIFF directory declaring 100000 × 100000                                        413  Image too large: "100000 × 100000 pixels"
///  45  a JPEG frame header declaring 65535 × 65535, its largest size                     413  Image too large: "65535 × 65535 pixels"
///  46  a BMP header declaring 100000 × 100000                                            413  Image too large: "100000 × 100000 pixels"
///  47  a top-down BMP header declaring 100000 × -100000                                  413  Image too large: "100000 × 100000 pixels"
///
///      Unusual but valid images: the 512 × 512 spheroid in other containers, and images with nothing in them
///  48  the spheroid as 8-bit RGB PNG                                                     200  512 × 512, 1 object
///  49  the spheroid as 8-bit grey PNG                                                    200  512 × 512, 1 object
///  50  the spheroid as 16-bit grey PNG                                                   200  512 × 512, 1 object
///  51  the spheroid as RGBA PNG with alpha 128                                           200  512 × 512, 1 object
///  52  the spheroid as palette PNG                                                       200  512 × 512, 1 object
///  53  the spheroid as PNG without its IEND chunk                                        200  512 × 512, 1 object
///  54  the spheroid as 16-bit grey TIFF                                                  200  512 × 512, 1 object
///  55  a two-page TIFF: the spheroid, then a blank 64 × 64 page                          200  512 × 512, 1 object
///  56  the spheroid as JPEG of quality 90                                                200  512 × 512, 1 object
///  57  the spheroid as 24-bit BMP                                                        200  512 × 512, 1 object
///  58  a flat 16 × 16 CMYK JPEG                                                          200  16 × 16, 0 objects
///  59  a 1 × 1 PNG                                                                       200  1 × 1, 0 objects
///  60  a flat 4096 × 1 PNG                                                               200  4096 × 1, 0 objects
///  61  the spheroid PNG uploaded as spheroid.tif of type image/tiff                      200  512 × 512, 1 object
///  62  PNG bytes as application/x-www-form-urlencoded, as curl --data-binary sends them  200  512 × 512, 1 object
///
///      Requests that are wrong whatever the image
///  63  model=nope                                                                        404  Unknown model: "Model 'nope' is not served here."
///  64  threshold=0                                                                       400  Invalid request: "threshold must be between 0 and 1"
///  65  threshold=1                                                                       400  Invalid request: "threshold must be between 0 and 1"
///  66  threshold=-1                                                                      400  Invalid request: "threshold must be between 0 and 1"
///  67  threshold=2                                                                       400  Invalid request: "threshold must be between 0 and 1"
///  68  threshold=NaN                                                                     400  Invalid request: "threshold must be between 0 and 1"
///  69  threshold=abc                                                                     400  Bad Request: "threshold"
///  70  priority=11                                                                       400  Invalid request: "priority must be between 0 and 10"
///  71  priority=-1                                                                       400  Invalid request: "priority must be between 0 and 10"
///  72  priority=high                                                                     400  Bad Request: "priority"
///  73  detectHoles=maybe                                                                 400  Bad Request: "detectHoles"
///  74  a multipart form with only a text field                                           400  Invalid request: "The form has no file."
///  75  a multipart form with no sections                                                 400  Invalid request: "The form has no file."
///  76  a multipart section without Content-Disposition                                   400  Invalid request: "form"
///  77  multipart/form-data without a boundary                                            400  Invalid request: "form"
///  78  a multipart body cut before its closing boundary                                  400  Invalid request: "form"
///  79  a batch sent as a raw body                                                        400  Invalid request: "Send the images as multipart/form-data files."
///  80  a batch form with only a text field                                               400  Invalid request: "The form has no files."
///  81  a batch form without a boundary                                                   400  Invalid request: "form"
///
///      Against a service with MaxImageBytes = 1,000,000 and MaxImagePixels = 300,000
///  82  the spheroid within both limits                                                   200  512 × 512, 1 object
///  83  a body of MaxImageBytes + 1 with its Content-Length                               413  Image too large: "larger than 1000000 bytes"
///  84  a chunked body of MaxImageBytes + 1 without a Content-Length                      413  Image too large: "larger than 1000000 bytes"
///  85  a multipart file of MaxImageBytes + 1                                             413  Image too large: "larger than 1000000 bytes"
///  86  a 24 kB PNG of 5000 × 5000 black pixels, a decompression bomb                     413  Image too large: "5000 × 5000 pixels"
/// </code>
/// Besides the table: a batch answers each file with its own result or problem (a text file next to the spheroid;
/// a file over MaxImageBytes next to the spheroid; a threshold of 2, which every file reports as 400), and an LZW
/// TIFF whose strip claims 1 GiB is refused with 422 and must not make the service allocate that gibibyte (refusing
/// it must allocate less than 64 MiB). Every default-service case above fires at once together with eight copies of
/// the spheroid; each copy must still get 200 with exactly one object, and each bad input its documented answer. The
/// default service runs on Kestrel, so its real body limits apply.
/// </remarks>
public sealed class BadInputTests(BadInputService service) : IClassFixture<BadInputService>
{
    private const int NoAnswer = 0;

    private const string Segment = "/v1/segment";
    private const string Batch = "/v1/segment/batch";

    private const string UnreadableImage = "Unreadable image";
    private const string ImageTooLarge = "Image too large";
    private const string InvalidRequest = "Invalid request";
    private const string BadRequest = "Bad Request";
    private const string NotAnImage = "match none of these formats";
    private const string EndsEarly = "image data ends early";
    private const string InTiffDirectory = "ends inside its TIFF directory";
    private const string ThresholdRange = "threshold must be between 0 and 1";
    private const string PriorityRange = "priority must be between 0 and 10";
    private const string OverByteLimit = "larger than 1000000 bytes";

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private static readonly Dictionary<string, Case> s_cases = new Case[]
    {
        // Not an image at all.
        Unreadable("zero bytes", () => Raw([]), "The file is empty."),
        Unreadable("4 KiB of random bytes", () => Raw(Inputs.RandomBytes), NotAnImage),
        Unreadable("a GIF", () => Raw(Inputs.Gif), NotAnImage),
        Unreadable("a PDF", () => Raw(Inputs.Pdf), NotAnImage),
        Unreadable("plain text", () => Raw(Inputs.Text), NotAnImage),

        // PNG.
        Unreadable("the first 4 bytes of a PNG signature", () => Raw(Inputs.GreyPng[..4]), "ends inside its file signature"),
        Unreadable("a PNG with only its signature and IHDR chunk", () => Raw(Inputs.GreyPng[..PngFile.FindChunk(Inputs.GreyPng, "IDAT")]), "PNG data could not be parsed"),
        Unreadable("a PNG cut in the middle of its IDAT chunk", () => Raw(Inputs.PngCutInsideIdat), EndsEarly),
        Unreadable("a PNG whose IDAT chunk has a wrong CRC", () => Raw(Inputs.PngWithWrongIdatCrc), "PNG image data is corrupt"),
        Unreadable("a PNG whose IDAT chunk holds no zlib stream", () => Raw(Inputs.PngWithGarbageIdat), "The PNG image data"),
        Unreadable("a PNG whose first chunk is not IHDR", () => Raw(Inputs.PngStartingWithText), "does not start with a valid IHDR chunk"),
        Unreadable("a PNG header with colour type 5", () => Raw(PngFile.HeaderOnly(64, 64, 8, 5)), "invalid colour type 5 with bit depth 8"),
        Unreadable("a PNG header declaring 0 × 512", () => Raw(PngFile.HeaderOnly(0, 512)), "invalid size of 0 × 512"),
        Unreadable("a PNG header declaring 512 × 2147483648", () => Raw(PngFile.HeaderOnly(512, 2_147_483_648)), "invalid size of 512 × 2147483648"),

        // JPEG.
        Unreadable("a JPEG that is only its SOI marker", () => Raw([0xFF, 0xD8]), "ends inside its file signature"),
        Unreadable("a JPEG that ends before its frame header", () => Raw(JpegFile.JfifSegmentOnly()), "no frame header found"),
        Unreadable("a JPEG that is only its frame header", () => Raw(JpegFile.FrameHeaderOnly(64, 64)), "JPEG data could not be parsed"),
        Unreadable("a JPEG cut in the middle of its scan", () => Raw(Inputs.Jpeg[..(Inputs.Jpeg.Length / 2)]), EndsEarly),
        Unreadable("a JPEG with its scan before its frame header", () => Raw(JpegFile.ScanBeforeFrame()), "no frame header before its image data"),
        Unreadable("a JPEG frame header declaring a height of 0", () => Raw(JpegFile.FrameHeaderOnly(64, 0)), "declares a height of 0"),
        Unreadable("a JPEG frame header declaring a width of 0", () => Raw(JpegFile.FrameHeaderOnly(0, 64)), "invalid size of 0 × 64"),
        Unreadable("a JPEG frame header with 2 colour components", () => Raw(JpegFile.FrameHeaderOnly(64, 64, 2)), "declares 2 colour components"),

        // TIFF.
        Unreadable("a TIFF that is only its 8-byte header", () => Raw(TiffFile.HeaderOnly(8)), InTiffDirectory),
        Unreadable("a TIFF whose first directory lies past its end", () => Raw(Inputs.TiffWithDirectoryPastItsEnd), InTiffDirectory),
        Unreadable("a TIFF cut before its directory", () => Raw(Inputs.GreyTiff[..(Inputs.GreyTiff.Length / 2)]), InTiffDirectory),
        Unreadable("a TIFF whose strip lies past its end", () => Raw(Inputs.TiffWithStripPastItsEnd), "Row 0 of the TIFF could not be read"),
        Unreadable("a TIFF directory without ImageWidth", () => Raw(TiffFile.DirectoryOnly(null, 512)), "lacks the ImageWidth or ImageLength tag"),
        Unreadable("a TIFF directory declaring 0 × 512", () => Raw(TiffFile.DirectoryOnly(0, 512)), "invalid size of 0 × 512"),
        Unreadable("a TIFF directory without strips", () => Raw(TiffFile.DirectoryOnly(64, 64)), "StripOffsets"),
        Unreadable("a 32-bit float TIFF", () => Raw(TiffFile.Write(TiffFile.Float32(16, 16, 0.5f))), "32-bit IEEEFP TIFF samples are not supported"),
        Unreadable(
            "a BigTIFF whose first directory is at 2^64 - 1",
            () => Raw(TiffFile.BigTiffHeader(ulong.MaxValue)),
            InTiffDirectory),
        Unreadable(
            "a BigTIFF whose ImageWidth values are at 2^64 - 2",
            () => Raw(TiffFile.BigTiffWithWidthValuesAt(ulong.MaxValue - 1)),
            "ends inside its TIFF directory values"),

        // BMP.
        Unreadable("a BMP cut inside its information header", () => Raw(Inputs.Bmp[..20]), "ends inside its BMP header"),
        Unreadable("a BMP with its headers and no pixels", () => Raw(BmpFile.HeadersOnly(64, 64)), EndsEarly),
        Unreadable("a BMP cut in half", () => Raw(Inputs.Bmp[..(Inputs.Bmp.Length / 2)]), EndsEarly),
        Unreadable("a BMP header with a bit count of 7", () => Raw(BmpFile.HeadersOnly(64, 64, 7)), "invalid bit count of 7"),
        Unreadable("a BMP header declaring 0 × 512", () => Raw(BmpFile.HeadersOnly(0, 512)), "invalid size of 0 × 512"),

        // Over Kestrel's default body limit of 30,000,000 bytes but under MaxImageBytes (52,428,800).
        Unreadable("35,000,000 random bytes", () => Raw(Inputs.UnderDefaultByteLimit), NotAnImage),
        Unreadable("a multipart file of 35,000,000 random bytes", () => Multipart(Segment, ("big.bin", Inputs.UnderDefaultByteLimit)), NotAnImage),

        // Multipart uploads of unreadable files.
        Unreadable("a multipart file of zero bytes", () => Multipart(Segment, ("empty.png", [])), "The file is empty."),
        Unreadable("a multipart form whose first file is text and second a PNG", () => Multipart(Segment, ("notes.txt", Inputs.Text), ("spheroid.png", Inputs.Spheroid)), NotAnImage),

        // Headers declaring more pixels than MaxImagePixels (10^8): refused before any pixel memory is allocated.
        TooLarge("a PNG header declaring 100000 × 100000", () => Raw(PngFile.HeaderOnly(100_000, 100_000)), "100000 × 100000 pixels"),
        TooLarge("a 16-bit grey PNG header declaring 100000 × 100000", () => Raw(PngFile.HeaderOnly(100_000, 100_000, 16, PngFile.Grey)), "100000 × 100000 pixels"),
        TooLarge("a TIFF directory declaring 100000 × 100000", () => Raw(TiffFile.DirectoryOnly(100_000, 100_000)), "100000 × 100000 pixels"),
        TooLarge("a JPEG frame header declaring 65535 × 65535, its largest size", () => Raw(JpegFile.FrameHeaderOnly(65535, 65535)), "65535 × 65535 pixels"),
        TooLarge("a BMP header declaring 100000 × 100000", () => Raw(BmpFile.HeadersOnly(100_000, 100_000)), "100000 × 100000 pixels"),
        TooLarge("a top-down BMP header declaring 100000 × -100000", () => Raw(BmpFile.HeadersOnly(100_000, -100_000)), "100000 × 100000 pixels"),

        // Unusual but valid images: the 512 × 512 spheroid in other containers, and images with nothing in them.
        Segmented("the spheroid as 8-bit RGB PNG", () => Raw(Inputs.Spheroid), 512, 512, 1),
        Segmented("the spheroid as 8-bit grey PNG", () => Raw(Inputs.GreyPng), 512, 512, 1),
        Segmented("the spheroid as 16-bit grey PNG", () => Raw(PngFile.Grey16(Inputs.SpheroidRaster)), 512, 512, 1),
        Segmented("the spheroid as RGBA PNG with alpha 128", () => Raw(PngFile.Rgba8(Inputs.SpheroidRaster, 128)), 512, 512, 1),
        Segmented("the spheroid as palette PNG", () => Raw(PngFile.PaletteOfGreys(Inputs.SpheroidRaster)), 512, 512, 1),
        Segmented("the spheroid as PNG without its IEND chunk", () => Raw(Inputs.GreyPng[..PngFile.FindChunk(Inputs.GreyPng, "IEND")]), 512, 512, 1),
        Segmented("the spheroid as 16-bit grey TIFF", () => Raw(TiffFile.Write(TiffFile.Grey16(Inputs.SpheroidRaster))), 512, 512, 1),
        Segmented("a two-page TIFF: the spheroid, then a blank 64 × 64 page", () => Raw(Inputs.TwoPageTiff), 512, 512, 1),
        Segmented("the spheroid as JPEG of quality 90", () => Raw(Inputs.Jpeg), 512, 512, 1),
        Segmented("the spheroid as 24-bit BMP", () => Raw(Inputs.Bmp), 512, 512, 1),
        Segmented("a flat 16 × 16 CMYK JPEG", () => Raw(JpegFile.FlatCmyk(16)), 16, 16, 0),
        Segmented("a 1 × 1 PNG", () => Raw(PngFile.Rgb8(Raster.Flat(1, 1, 128))), 1, 1, 0),
        Segmented("a flat 4096 × 1 PNG", () => Raw(PngFile.Grey8(Raster.Flat(4096, 1, 90))), 4096, 1, 0),
        Segmented("the spheroid PNG uploaded as spheroid.tif of type image/tiff", () => Multipart(Segment, ("spheroid.tif", Inputs.Spheroid)), 512, 512, 1),
        Segmented(
            "PNG bytes as application/x-www-form-urlencoded, as curl --data-binary sends them",
            () => Raw(Inputs.Spheroid, contentType: "application/x-www-form-urlencoded"),
            512,
            512,
            1),

        // Requests that are wrong whatever the image.
        Refused("model=nope", () => Raw(Inputs.Spheroid, "?model=nope"), new Problem(404, "Unknown model", "Model 'nope' is not served here.")),
        Invalid("threshold=0", () => Raw(Inputs.Spheroid, "?threshold=0"), ThresholdRange),
        Invalid("threshold=1", () => Raw(Inputs.Spheroid, "?threshold=1"), ThresholdRange),
        Invalid("threshold=-1", () => Raw(Inputs.Spheroid, "?threshold=-1"), ThresholdRange),
        Invalid("threshold=2", () => Raw(Inputs.Spheroid, "?threshold=2"), ThresholdRange),
        Invalid("threshold=NaN", () => Raw(Inputs.Spheroid, "?threshold=NaN"), ThresholdRange),
        Refused("threshold=abc", () => Raw(Inputs.Spheroid, "?threshold=abc"), new Problem(400, BadRequest, "threshold")),
        Invalid("priority=11", () => Raw(Inputs.Spheroid, "?priority=11"), PriorityRange),
        Invalid("priority=-1", () => Raw(Inputs.Spheroid, "?priority=-1"), PriorityRange),
        Refused("priority=high", () => Raw(Inputs.Spheroid, "?priority=high"), new Problem(400, BadRequest, "priority")),
        Refused("detectHoles=maybe", () => Raw(Inputs.Spheroid, "?detectHoles=maybe"), new Problem(400, BadRequest, "detectHoles")),
        Invalid("a multipart form with only a text field", () => MultipartFields(Segment, ("comment", "no file here")), "The form has no file."),
        Invalid("a multipart form with no sections", () => Raw(Inputs.FormWithNoSections, contentType: "multipart/form-data; boundary=empty"), "The form has no file."),

        // An empty MultipartFormDataContent sends one section with no headers at all.
        Invalid("a multipart section without Content-Disposition", () => MultipartFields(Segment), "form"),
        Invalid("multipart/form-data without a boundary", () => Raw(Inputs.Spheroid, contentType: "multipart/form-data"), "form"),
        Invalid("a multipart body cut before its closing boundary", () => Raw(Inputs.CutMultipart, contentType: "multipart/form-data; boundary=cut"), "form"),
        Invalid("a batch sent as a raw body", () => Raw(Inputs.Spheroid, path: Batch), "Send the images as multipart/form-data files."),
        Invalid("a batch form with only a text field", () => MultipartFields(Batch, ("comment", "no files here")), "The form has no files."),
        Invalid("a batch form without a boundary", () => Raw(Inputs.Spheroid, contentType: "multipart/form-data", path: Batch), "form"),

        // Against a service with MaxImageBytes = 1,000,000 and MaxImagePixels = 300,000.
        Segmented("the spheroid within both limits", () => Raw(Inputs.Spheroid), 512, 512, 1) with { Service = Service.Limited },
        TooLarge("a body of MaxImageBytes + 1 with its Content-Length", () => Raw(Inputs.OverByteLimit), OverByteLimit) with { Service = Service.Limited },
        TooLarge("a chunked body of MaxImageBytes + 1 without a Content-Length", () => Chunked(Inputs.OverByteLimit), OverByteLimit) with { Service = Service.Limited },
        TooLarge("a multipart file of MaxImageBytes + 1", () => Multipart(Segment, ("big.png", Inputs.OverByteLimit)), OverByteLimit) with { Service = Service.Limited },
        TooLarge("a 24 kB PNG of 5000 × 5000 black pixels, a decompression bomb", () => Raw(Inputs.Bomb), "5000 × 5000 pixels") with { Service = Service.Limited },
    }.ToDictionary(c => c.Input);

    private enum Service
    {
        Default,
        Limited,
    }

    public static TheoryData<string> UnreadableFiles => Names(Service.Default, 422);

    public static TheoryData<string> ImagesDeclaringTooManyPixels => Names(Service.Default, 413);

    public static TheoryData<string> UnusualButValidImages => Names(Service.Default, 200);

    public static TheoryData<string> InvalidRequests => Names(Service.Default, 400, 404);

    public static TheoryData<string> UploadsAgainstSmallLimits => Names(Service.Limited, 200, 413);

    [Theory]
    [MemberData(nameof(UnreadableFiles))]
    public Task UnreadableFileIsRefusedWith422AndAReasonThatNamesTheProblem(string input) => AssertDocumentedAnswerAsync(input);

    [Theory]
    [MemberData(nameof(ImagesDeclaringTooManyPixels))]
    public Task ImageDeclaringTooManyPixelsIsRefusedWith413FromItsHeader(string input) => AssertDocumentedAnswerAsync(input);

    [Theory]
    [MemberData(nameof(UnusualButValidImages))]
    public Task UnusualButValidImageIsSegmented(string input) => AssertDocumentedAnswerAsync(input);

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public Task InvalidRequestIsRefusedWithA4xxProblemThatSaysWhy(string input) => AssertDocumentedAnswerAsync(input);

    [Theory]
    [MemberData(nameof(UploadsAgainstSmallLimits))]
    public Task UploadAgainstSmallLimitsIsRefusedWith413OnlyWhenOverThem(string input) => AssertDocumentedAnswerAsync(input);

    [Fact]
    public async Task BatchAnswersEachFileWithItsResultOrItsOwnProblem()
    {
        var ct = TestContext.Current.CancellationToken;

        var items = await SendBatchAsync(service.Default, Batch, [("notes.txt", Inputs.Text), ("spheroid.png", Inputs.Spheroid)], ct);

        Assert.Equal(("notes.txt", "spheroid.png"), (items[0].FileName, items[1].FileName));
        Assert.Null(items[0].Result);
        Assert.Equal((422, UnreadableImage), (items[0].Problem?.Status, items[0].Problem?.Title));
        Assert.Contains(NotAnImage, items[0].Problem?.Detail, StringComparison.Ordinal);
        Assert.Null(items[1].Problem);
        Assert.Equal((512, 512, 1), (items[1].Result?.Width, items[1].Result?.Height, items[1].Result?.ObjectCount));
    }

    [Fact]
    public async Task BatchRefusesOnlyTheFileOverMaxImageBytes()
    {
        var ct = TestContext.Current.CancellationToken;

        var items = await SendBatchAsync(service.Limited, Batch, [("big.png", Inputs.OverByteLimit), ("spheroid.png", Inputs.Spheroid)], ct);

        Assert.Null(items[0].Result);
        Assert.Equal((413, ImageTooLarge), (items[0].Problem?.Status, items[0].Problem?.Title));
        Assert.Null(items[1].Problem);
        Assert.Equal((512, 512, 1), (items[1].Result?.Width, items[1].Result?.Height, items[1].Result?.ObjectCount));
    }

    [Fact]
    public async Task BatchWithAnInvalidThresholdGivesEveryFileTheSameProblem()
    {
        // The query applies to the whole batch but is checked per file, so the batch itself still answers 200.
        var ct = TestContext.Current.CancellationToken;

        var items = await SendBatchAsync(service.Default, Batch + "?threshold=2", [("a.png", Inputs.Spheroid), ("b.png", Inputs.GreyPng)], ct);

        Assert.All(items, item => Assert.Null(item.Result));
        Assert.All(items, item => Assert.Equal((400, InvalidRequest), (item.Problem?.Status, item.Problem?.Title)));
        Assert.All(items, item => Assert.Contains(ThresholdRange, item.Problem?.Detail, StringComparison.Ordinal));
    }

    [Fact]
    public async Task CompressedTiffWhoseStripClaimsAGibibyteIsRefusedWithoutAllocatingIt()
    {
        const uint claimed = 1u << 30;
        var ct = TestContext.Current.CancellationToken;
        var tiff = TiffFile.WithStripByteCount(TiffFile.Write(Compression.LZW, TiffFile.Grey8(Raster.Flat(64, 64, 100))), claimed);

        var before = GC.GetTotalAllocatedBytes(precise: true);
        var answer = await SendAsync(service.Default, () => Raw(tiff), ct);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        AssertAnswer($"a {tiff.Length}-byte LZW TIFF whose strip claims {claimed} bytes", new Problem(422, UnreadableImage, "TIFF"), answer);
        Assert.True(allocated < 64 << 20, $"Refusing the file allocated {allocated / (1 << 20)} MiB.");
    }

    [Fact]
    public async Task ServiceKeepsServingValidImagesWhileEveryBadInputArrivesAtOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var cases = s_cases.Values.Where(c => c.Service == Service.Default).ToArray();

        var valid = Enumerable.Range(0, 8).Select(_ => SendAsync(service.Default, () => Raw(Inputs.Spheroid), ct)).ToArray();
        var others = cases.Select(c => SendAsync(service.Default, c.Request, ct)).ToArray();
        await Task.WhenAll([.. valid, .. others]);

        foreach (var answer in valid.Select(t => t.Result))
        {
            AssertAnswer("the spheroid among the bad inputs", new Segmentation(512, 512, 1), answer);
        }

        foreach (var (@case, answer) in cases.Zip(others.Select(t => t.Result)))
        {
            AssertAnswer(@case.Input, @case.Expected, answer);
        }
    }

    private async Task AssertDocumentedAnswerAsync(string input)
    {
        var @case = s_cases[input];
        var client = @case.Service == Service.Default ? service.Default : service.Limited;

        var answer = await SendAsync(client, @case.Request, TestContext.Current.CancellationToken);

        AssertAnswer(input, @case.Expected, answer);
    }

    private static void AssertAnswer(string input, Answer expected, ObservedAnswer answer)
    {
        Assert.True(
            answer.Status == expected.Status,
            $"{input}: expected {expected.Status}, got {Describe(answer)}, {answer.ContentType}: {answer.Body}");
        switch (expected)
        {
            case Problem problem:
                Assert.Equal("application/problem+json", answer.ContentType);
                var details = JsonSerializer.Deserialize<ProblemDetails>(answer.Body, s_json);
                Assert.NotNull(details);
                Assert.Equal((problem.Status, problem.Title), (details.Status, details.Title));
                Assert.Contains(problem.Reason, details.Detail, StringComparison.Ordinal);
                break;
            case Segmentation segmentation:
                var result = JsonSerializer.Deserialize<SegmentResult>(answer.Body, s_json);
                Assert.NotNull(result);
                Assert.Equal((segmentation.Width, segmentation.Height, segmentation.Objects), (result.Width, result.Height, result.ObjectCount));
                break;
            default:
                throw new InvalidOperationException($"No check for {expected}.");
        }
    }

    private static async Task<ObservedAnswer> SendAsync(HttpClient client, Func<HttpRequestMessage> request, CancellationToken cancellationToken)
    {
        using var message = request();
        try
        {
            using var response = await client.SendAsync(message, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            return new ObservedAnswer((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, body);
        }
        catch (HttpRequestException closed) when (closed.InnerException is IOException)
        {
            return new ObservedAnswer(NoAnswer, null, $"{closed.Message} {closed.InnerException.Message}");
        }
    }

    private static string Describe(ObservedAnswer answer) =>
        answer.Status == NoAnswer ? "no answer (the server closed the connection while the body was sent)" : $"{answer.Status}";

    private static async Task<BatchItem[]> SendBatchAsync(
        HttpClient client, string path, (string FileName, byte[] Bytes)[] files, CancellationToken cancellationToken)
    {
        using var request = Multipart(path, files);
        using var response = await client.SendAsync(request, cancellationToken);
        var items = await response.Content.ReadFromJsonAsync<BatchItem[]>(cancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(items);
        Assert.Equal(files.Length, items.Length);
        return items;
    }

    private static HttpRequestMessage Raw(byte[] body, string query = "", string contentType = "application/octet-stream", string path = Segment)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return new HttpRequestMessage(HttpMethod.Post, path + query) { Content = content };
    }

    /// <summary>A body streamed without a Content-Length, as a client that does not know the size sends it.</summary>
    private static HttpRequestMessage Chunked(byte[] body)
    {
        var content = new StreamContent(new UnknownLengthStream(body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return new HttpRequestMessage(HttpMethod.Post, Segment) { Content = content };
    }

    private static HttpRequestMessage Multipart(string path, params (string FileName, byte[] Bytes)[] files)
    {
        var form = new MultipartFormDataContent();
        foreach (var (fileName, bytes) in files)
        {
            var file = new ByteArrayContent(bytes);
            file.Headers.ContentType = new MediaTypeHeaderValue(fileName.EndsWith(".tif", StringComparison.Ordinal) ? "image/tiff" : "application/octet-stream");
            form.Add(file, "files", fileName);
        }

        return new HttpRequestMessage(HttpMethod.Post, path) { Content = form };
    }

    private static HttpRequestMessage MultipartFields(string path, params (string Name, string Value)[] fields)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, value) in fields)
        {
            form.Add(new StringContent(value, Encoding.UTF8), name);
        }

        return new HttpRequestMessage(HttpMethod.Post, path) { Content = form };
    }

    private static Case Unreadable(string input, Func<HttpRequestMessage> request, string reason) =>
        new(Service.Default, input, request, new Problem(422, UnreadableImage, reason));

    private static Case TooLarge(string input, Func<HttpRequestMessage> request, string reason) =>
        new(Service.Default, input, request, new Problem(413, ImageTooLarge, reason));

    private static Case Invalid(string input, Func<HttpRequestMessage> request, string reason) =>
        new(Service.Default, input, request, new Problem(400, InvalidRequest, reason));

    private static Case Refused(string input, Func<HttpRequestMessage> request, Problem problem) =>
        new(Service.Default, input, request, problem);

    private static Case Segmented(string input, Func<HttpRequestMessage> request, int width, int height, int objects) =>
        new(Service.Default, input, request, new Segmentation(width, height, objects));

    private static TheoryData<string> Names(Service where, params int[] statuses) =>
        [.. s_cases.Values.Where(c => c.Service == where && statuses.Contains(c.Expected.Status)).Select(c => c.Input)];

    private sealed record Case(Service Service, string Input, Func<HttpRequestMessage> Request, Answer Expected);

    private abstract record Answer(int Status);

    /// <summary>A ProblemDetails answer: its status, its title, and a phrase its detail must contain.</summary>
    private sealed record Problem(int Status, string Title, string Reason) : Answer(Status);

    private sealed record Segmentation(int Width, int Height, int Objects) : Answer(200);

    /// <summary>A status, or <see cref="NoAnswer"/> where the connection closed before one arrived.</summary>
    private sealed record ObservedAnswer(int Status, string? ContentType, string Body);

    /// <summary>The part of a segmentation answer these tests check.</summary>
    private sealed record SegmentResult(int Width, int Height, int ObjectCount);

    private sealed record BatchItem(string FileName, SegmentResult? Result, ProblemDetails? Problem);

    /// <summary>The inputs that are costly to build or used more than once, built once.</summary>
    private static class Inputs
    {
        public static readonly Raster SpheroidRaster = Raster.Load(SpheroidPath);
        public static readonly byte[] Spheroid = File.ReadAllBytes(SpheroidPath);
        public static readonly byte[] GreyPng = PngFile.Grey8(SpheroidRaster);
        public static readonly byte[] GreyTiff = TiffFile.Write(TiffFile.Grey8(SpheroidRaster));
        public static readonly byte[] TwoPageTiff = TiffFile.Write(TiffFile.Grey8(SpheroidRaster), TiffFile.Grey8(Raster.Flat(64, 64, 200)));
        public static readonly byte[] Jpeg = JpegFile.Encode(SpheroidRaster, 90);
        public static readonly byte[] Bmp = BmpFile.Rgb24(SpheroidRaster);
        public static readonly byte[] Text = "spheroid_01.png\nthis is the file name, not the file\n"u8.ToArray();
        public static readonly byte[] Pdf = "%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"u8.ToArray();
        public static readonly byte[] Gif = [.. "GIF89a"u8, 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3B];
        public static readonly byte[] RandomBytes = NotAnySignature(new Random(20240611), 4096);
        public static readonly byte[] OverByteLimit = NotAnySignature(new Random(7), BadInputService.MaxImageBytes + 1);
        public static readonly byte[] UnderDefaultByteLimit = NotAnySignature(new Random(35), 35_000_000);
        public static readonly byte[] Bomb = PngFile.Grey8(Raster.Flat(5000, 5000, 0));
        public static readonly byte[] PngCutInsideIdat = CutInsideIdat(GreyPng);
        public static readonly byte[] PngWithWrongIdatCrc = DamageIdat(GreyPng, crcOnly: true);
        public static readonly byte[] PngWithGarbageIdat = DamageIdat(GreyPng, crcOnly: false);
        public static readonly byte[] PngStartingWithText = [.. PngFile.Signature, .. PngFile.Chunk("tEXt", "Comment\0no header first"u8), .. GreyPng[8..]];
        public static readonly byte[] TiffWithDirectoryPastItsEnd = TiffFile.WithFirstDirectoryAt(GreyTiff, 1_000_000);
        public static readonly byte[] TiffWithStripPastItsEnd = TiffFile.WithStripAt(GreyTiff, (uint)GreyTiff.Length + 1000);
        public static readonly byte[] FormWithNoSections = "--empty--\r\n"u8.ToArray();
        public static readonly byte[] CutMultipart =
            [.. "--cut\r\nContent-Disposition: form-data; name=\"files\"; filename=\"s.png\"\r\n\r\n"u8, .. Spheroid[..1000]];

        private static string SpheroidPath => Path.Combine(RepositoryLayout.Root, "tests", "assets", "single-spheroid.png");

        private static byte[] NotAnySignature(Random random, int length)
        {
            var bytes = new byte[length];
            random.NextBytes(bytes);

            // No supported signature starts with 0x00, so the bytes cannot pass for a cut-off image either.
            bytes[0] = 0x00;
            return bytes;
        }

        private static byte[] CutInsideIdat(byte[] png)
        {
            var idat = PngFile.FindChunk(png, "IDAT");
            return png[..(idat + 8 + (PngFile.ChunkDataLength(png, idat) / 2))];
        }

        /// <summary>Flips the IDAT chunk's CRC, or replaces its data with bytes that are no zlib stream under a correct CRC.</summary>
        private static byte[] DamageIdat(byte[] png, bool crcOnly)
        {
            var idat = PngFile.FindChunk(png, "IDAT");
            var length = PngFile.ChunkDataLength(png, idat);
            if (crcOnly)
            {
                var copy = png.ToArray();
                copy[idat + 8 + length] ^= 0xFF;
                return copy;
            }

            var garbage = Enumerable.Range(0, length).Select(i => (byte)((i * 37) + 11)).ToArray();
            return [.. png[..idat], .. PngFile.Chunk("IDAT", garbage), .. png[(idat + 12 + length)..]];
        }
    }

    /// <summary>Reads like a network stream: it cannot seek, so HttpClient sends it chunked.</summary>
    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data, writable: false)
    {
        public override bool CanSeek => false;
    }
}

/// <summary>
/// Two in-memory Inference services for the whole class: one as configured by default, one with small byte and
/// pixel limits so that oversized uploads stay cheap.
/// </summary>
public sealed class BadInputService : IAsyncLifetime
{
    public const int MaxImageBytes = 1_000_000;
    public const int MaxImagePixels = 300_000;

    private readonly InferenceFactory _defaultFactory = new();
    private readonly InferenceFactory _limitedFactory = new(new Dictionary<string, string?>
    {
        ["Inference:MaxImageBytes"] = MaxImageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Inference:MaxImagePixels"] = MaxImagePixels.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    public HttpClient Default { get; private set; } = null!;

    public HttpClient Limited { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        // Kestrel rather than TestServer, so that the server's own limits apply to every upload.
        // An explicit endpoint: UseKestrel(port) races with the server's own binding (dotnet/aspnetcore#67714).
        _defaultFactory.UseKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, CellSeg.LoadGen.Topology.FreePort.Next()));
        var ct = TestContext.Current.CancellationToken;
        var clients = await Task.WhenAll(_defaultFactory.CreateReadyClientAsync(ct), _limitedFactory.CreateReadyClientAsync(ct));
        (Default, Limited) = (clients[0], clients[1]);
    }

    public async ValueTask DisposeAsync()
    {
        Default?.Dispose();
        Limited?.Dispose();
        await _defaultFactory.DisposeAsync();
        await _limitedFactory.DisposeAsync();
    }
}
