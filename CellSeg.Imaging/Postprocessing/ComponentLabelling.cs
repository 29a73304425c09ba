using System.Buffers;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using CellSeg.Imaging.Preprocessing;

namespace CellSeg.Imaging.Postprocessing;

/// <summary>
/// One raster scan that resizes the probability map to the image size, thresholds it, and labels foreground
/// 8-connected and background 4-connected at the same time (the pairing for which every hole has exactly one
/// surrounding object). Only two rows of labels are kept; per component it records size, probability sum, first
/// pixel and the label above that first pixel, which is all the nesting analysis needs. The thresholded mask is
/// kept, with a one-pixel background border, for contour tracing.
/// The scan labels runs of equal mask values rather than pixels: a run starts a label only where it touches nothing
/// above, which includes every component's first pixel, so the roots and their records are the pixel scan's.
/// </summary>
internal sealed class ComponentLabelling : IDisposable
{
    /// <summary>Background label of everything connected to the image border, including the border itself.</summary>
    public const int Outside = 0;

    private readonly byte[] _mask;

    private ComponentLabelling(int width, int height)
    {
        Width = width;
        Height = height;
        Stride = width + 2;
        _mask = ArrayPool<byte>.Shared.Rent(Stride * (height + 2));
        Foreground = new ComponentTable(1024);
        Background = new ComponentTable(1024);

        // Foreground labels start at 1 so that a row of labels can store background as negative numbers.
        Foreground.Add(-1, Outside);
        Background.Add(-1, -1);
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>Row length of <see cref="Mask"/>: the width plus a border column on each side.</summary>
    public int Stride { get; }

    /// <summary>1 for foreground; pixel (x, y) is at (y + 1) · <see cref="Stride"/> + x + 1.</summary>
    public ReadOnlySpan<byte> Mask => _mask.AsSpan(0, Stride * (Height + 2));

    public ComponentTable Foreground { get; }

    public ComponentTable Background { get; }

    public static ComponentLabelling Run(
        ReadOnlySpan<float> probabilities, int mapWidth, int mapHeight, int width, int height, float threshold)
    {
        var labelling = new ComponentLabelling(width, height);
        try
        {
            labelling.Scan(probabilities, mapWidth, mapHeight, threshold);
        }
        catch
        {
            labelling.Dispose();
            throw;
        }

        labelling.Foreground.MergeIntoRoots();
        labelling.Background.MergeIntoRoots();
        return labelling;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_mask);
        Foreground.Dispose();
        Background.Dispose();
    }

    private void Scan(ReadOnlySpan<float> probabilities, int mapWidth, int mapHeight, float threshold)
    {
        var width = Width;
        var height = Height;
        var mask = _mask.AsSpan(0, Stride * (height + 2));
        mask[..Stride].Clear();
        mask[^Stride..].Clear();

        var ints = ArrayPool<int>.Shared.Rent(4 * (width + 2));
        var floats = ArrayPool<float>.Shared.Rent(4 * width);
        try
        {
            // Label rows carry a border cell on each side that always reads as Outside background (-1).
            var previous = ints.AsSpan(0, width + 2);
            var current = ints.AsSpan(width + 2, width + 2);
            var left = ints.AsSpan(2 * (width + 2), width);
            var right = ints.AsSpan((2 * (width + 2)) + width, width);
            previous.Fill(-1);
            current.Fill(-1);

            var weights = floats.AsSpan(0, width);
            var lowerRow = floats.AsSpan(width, width);
            var upperRow = floats.AsSpan(2 * width, width);
            var row = floats.AsSpan(3 * width, width);
            BilinearTaps.Compute(mapWidth, width, left, right, weights);
            var rowScale = (double)mapHeight / height;
            int lowerSource = -1, upperSource = -1;

            var foreground = Foreground;
            var background = Background;
            var sameSize = mapWidth == width && mapHeight == height;
            for (var y = 0; y < height; y++)
            {
                ReadOnlySpan<float> values;
                if (sameSize)
                {
                    // The map is already the image's size: the bilinear taps would take every sample as it is.
                    values = probabilities.Slice(y * width, width);
                }
                else
                {
                    var (top, bottom, wy) = BilinearTaps.At(mapHeight, rowScale, y);
                    if (lowerSource != top)
                    {
                        if (upperSource == top)
                        {
                            var swap = lowerRow;
                            lowerRow = upperRow;
                            upperRow = swap;
                            (lowerSource, upperSource) = (upperSource, lowerSource);
                        }
                        else
                        {
                            ResampleRow(probabilities.Slice(top * mapWidth, mapWidth), left, right, weights, lowerRow);
                            lowerSource = top;
                        }
                    }

                    if (upperSource != bottom)
                    {
                        ResampleRow(probabilities.Slice(bottom * mapWidth, mapWidth), left, right, weights, upperRow);
                        upperSource = bottom;
                    }

                    for (var x = 0; x < width; x++)
                    {
                        row[x] = lowerRow[x] + ((upperRow[x] - lowerRow[x]) * wy);
                    }

                    values = row;
                }

                var maskRow = mask.Slice(((y + 1) * Stride) + 1, width);
                mask[(y + 1) * Stride] = 0;
                mask[((y + 1) * Stride) + width + 1] = 0;
                Threshold(values, threshold, maskRow);
                var lastRow = y == height - 1;
                var rowStart = y * width;

                // Run by run: a run of equal mask values takes one label, joined with every label it touches above.
                for (var start = 0; start < width;)
                {
                    var isForeground = maskRow[start] != 0;
                    var length = maskRow[start..].IndexOfAnyExcept(maskRow[start]);
                    var end = length < 0 ? width : start + length;
                    if (isForeground)
                    {
                        LabelForegroundRun(foreground, values, previous, current, rowStart, start, end);
                    }
                    else
                    {
                        LabelBackgroundRun(background, previous, current, rowStart, start, end, lastRow || end == width);
                    }

                    start = end;
                }

                var swapRows = previous;
                previous = current;
                current = swapRows;
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(ints);
            ArrayPool<float>.Shared.Return(floats);
        }
    }

    /// <summary>
    /// Labels the foreground run [<paramref name="start"/>, <paramref name="end"/>) of a row: 8-connected, it joins
    /// every foreground label from one column before it to one after it in the row above; touching none, it starts a
    /// label at its first pixel, whose neighbour is the background label just above. Label rows are offset by the
    /// border cell (column x is at x + 1).
    /// </summary>
    private static void LabelForegroundRun(
        ComponentTable foreground, ReadOnlySpan<float> values, ReadOnlySpan<int> previous, Span<int> current, int rowStart, int start, int end)
    {
        var label = 0;
        var cells = previous[start..(end + 2)];
        for (var i = 0; i < cells.Length;)
        {
            var above = cells[i];
            if (above > 0)
            {
                label = label == 0 ? above : foreground.Union(label, above);
            }

            i = NextDifferent(cells, i);
        }

        if (label == 0)
        {
            label = foreground.Add(rowStart + start, -previous[start + 1] - 1);
        }

        current[(start + 1)..(end + 1)].Fill(label);
        foreground.Count[label] += end - start;
        foreground.Sum[label] += Sum(values[start..end]);
    }

    /// <summary>
    /// Labels the background run [<paramref name="start"/>, <paramref name="end"/>) of a row: 4-connected, it joins
    /// the background labels straight above it, and the outside where it starts at the left border or
    /// <paramref name="touchesBorder"/> (the last row, or the right border); touching none, it starts a label at its
    /// first pixel, whose neighbour is the foreground label just above.
    /// </summary>
    private static void LabelBackgroundRun(
        ComponentTable background, ReadOnlySpan<int> previous, Span<int> current, int rowStart, int start, int end, bool touchesBorder)
    {
        var label = start == 0 ? Outside : -1;
        var cells = previous[(start + 1)..(end + 1)];
        for (var i = 0; i < cells.Length;)
        {
            var above = cells[i];
            if (above < 0)
            {
                label = label < 0 ? -above - 1 : background.Union(label, -above - 1);
            }

            i = NextDifferent(cells, i);
        }

        if (label < 0)
        {
            label = background.Add(rowStart + start, previous[start + 1]);
        }

        if (touchesBorder)
        {
            label = background.Union(label, Outside);
        }

        current[(start + 1)..(end + 1)].Fill(-label - 1);
        background.Count[label] += end - start;
    }

    /// <summary>1 where the value reaches the threshold, else 0 (NaN included).</summary>
    private static void Threshold(ReadOnlySpan<float> values, float threshold, Span<byte> mask)
    {
        if (mask.Length < values.Length)
        {
            throw new ArgumentException("The mask row is shorter than the values.", nameof(mask));
        }

        var x = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref var source = ref MemoryMarshal.GetReference(values);
            ref var target = ref MemoryMarshal.GetReference(mask);
            var limit = Vector256.Create(threshold);
            var one = Vector256.Create((byte)1);
            for (; x <= values.Length - Vector256<byte>.Count; x += Vector256<byte>.Count)
            {
                var a = Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref source, (nuint)x), limit).AsInt32();
                var b = Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref source, (nuint)(x + 8)), limit).AsInt32();
                var c = Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref source, (nuint)(x + 16)), limit).AsInt32();
                var d = Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref source, (nuint)(x + 24)), limit).AsInt32();
                var bytes = Vector256.Narrow(Vector256.Narrow(a, b), Vector256.Narrow(c, d)).AsByte() & one;
                bytes.StoreUnsafe(ref target, (nuint)x);
            }
        }

        for (; x < values.Length; x++)
        {
            mask[x] = values[x] >= threshold ? (byte)1 : (byte)0;
        }
    }

    /// <summary>The index of the first cell after <paramref name="index"/> that differs from it, or the length.</summary>
    private static int NextDifferent(ReadOnlySpan<int> cells, int index)
    {
        var same = cells[(index + 1)..].IndexOfAnyExcept(cells[index]);
        return same < 0 ? cells.Length : index + 1 + same;
    }

    /// <summary>
    /// The sum in double precision, eight lanes at a time. A double holds the sum of a row's floats exactly unless their
    /// exponents span more than its 53 bits, so the lane order changes at most the last bits of a confidence.
    /// </summary>
    private static double Sum(ReadOnlySpan<float> values)
    {
        var i = 0;
        var total = 0d;
        if (Vector256.IsHardwareAccelerated && values.Length >= Vector256<float>.Count)
        {
            ref var source = ref MemoryMarshal.GetReference(values);
            var (lower, upper) = (Vector256<double>.Zero, Vector256<double>.Zero);
            for (; i <= values.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var (low, high) = Vector256.Widen(Vector256.LoadUnsafe(ref source, (nuint)i));
                lower += low;
                upper += high;
            }

            total = Vector256.Sum(lower + upper);
        }

        for (; i < values.Length; i++)
        {
            total += values[i];
        }

        return total;
    }

    private static void ResampleRow(ReadOnlySpan<float> source, ReadOnlySpan<int> left, ReadOnlySpan<int> right, ReadOnlySpan<float> weights, Span<float> row)
    {
        for (var x = 0; x < row.Length; x++)
        {
            var a = source[left[x]];
            row[x] = a + ((source[right[x]] - a) * weights[x]);
        }
    }
}
