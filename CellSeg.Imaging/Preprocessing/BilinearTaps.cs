namespace CellSeg.Imaging.Preprocessing;

/// <summary>
/// Source positions for bilinear resampling with half-pixel centres, as OpenCV's INTER_LINEAR and PIL's bilinear
/// filter without antialiasing: destination index d samples source coordinate (d + 0.5) · S / D − 0.5, clamped to
/// the first and last source sample.
/// </summary>
internal static class BilinearTaps
{
    /// <summary>Fills, for each destination index, the two source indices and the weight of the upper one.</summary>
    public static void Compute(int sourceLength, int destinationLength, Span<int> lower, Span<int> upper, Span<float> weight)
    {
        var scale = (double)sourceLength / destinationLength;
        for (var d = 0; d < destinationLength; d++)
        {
            (lower[d], upper[d], weight[d]) = At(sourceLength, scale, d);
        }
    }

    /// <summary>The taps of one destination index; <paramref name="scale"/> is source length / destination length.</summary>
    public static (int Lower, int Upper, float Weight) At(int sourceLength, double scale, int destination)
    {
        var position = ((destination + 0.5) * scale) - 0.5;
        if (position <= 0)
        {
            return (0, 0, 0f);
        }

        var index = (int)position;
        return index >= sourceLength - 1
            ? (sourceLength - 1, sourceLength - 1, 0f)
            : (index, index + 1, (float)(position - index));
    }
}
