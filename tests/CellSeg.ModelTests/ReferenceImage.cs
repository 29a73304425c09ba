using System.Text.Json;
using CellSeg.Imaging.Decoding;
using CellSeg.Imaging.Preprocessing;
using CellSeg.LoadGen.Quality;

namespace CellSeg.ModelTests;

/// <summary>
/// A model folder's <c>reference.json</c>: PyTorch's output on <c>reference-input.png</c>, an 8-bit RGB image already
/// at the input size, pre-processed as value / 255 then (v − mean) / std per channel.
/// </summary>
public sealed record ReferenceImage
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public required string Image { get; init; }

    public required int[] InputShape { get; init; }

    public required double InputSum { get; init; }

    public required int[] OutputShape { get; init; }

    public required double OutputSum { get; init; }

    public required double OutputMean { get; init; }

    public required int ForegroundPixelsAt0_5 { get; init; }

    public required IReadOnlyList<ReferencePixel> Pixels { get; init; }

    public ReferenceTolerance Tolerance { get; init; } = new(1e-4, 1e-4, 1e-4, 20);

    public static ReferenceImage Read(string modelFolder)
    {
        using var stream = File.OpenRead(Path.Combine(modelFolder, "reference.json"));
        return JsonSerializer.Deserialize<ReferenceImage>(stream, s_json)
            ?? throw new InvalidDataException($"{modelFolder}/reference.json is empty.");
    }

    /// <summary>
    /// The model input for the reference image through the service's decoder and tensor writer; at equal sizes the
    /// bilinear resize takes every sample as it is, so this is exactly the documented pre-processing.
    /// </summary>
    public static float[] Input(SegmentationNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        var reference = Read(network.Folder);
        var image = ImageDecoder.Decode(File.ReadAllBytes(Path.Combine(network.Folder, reference.Image)));
        var card = network.Card;
        Assert.Equal((card.InputWidth, card.InputHeight), (image.Width, image.Height));
        var input = new float[3 * card.InputWidth * card.InputHeight];
        InputTensorWriter.WriteChw(image, card.InputWidth, card.InputHeight, card.Mean, card.Std, input);
        return input;
    }
}

public sealed record ReferencePixel(int X, int Y, double Value);

public sealed record ReferenceTolerance(double PixelAbs, double MeanAbs, double SumRelative, int ForegroundPixelsAbs);
