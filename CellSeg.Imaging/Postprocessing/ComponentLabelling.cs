using System.Buffers;
using CellSeg.Imaging.Preprocessing;

namespace CellSeg.Imaging.Postprocessing;

/// <summary>
/// One raster scan that resizes the probability map to the image size, thresholds it, and labels foreground
/// 8-connected and background 4-connected at the same time (the pairing for which every hole has exactly one
/// surrounding object). Only two rows of labels are kept; per component it records size, probability sum, first
/// pixel and the label above that first pixel, which is all the nesting analysis needs. The thresholded mask is
/// kept, with a one-pixel background border, for contour tracing.
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
                var lastRow = y == height - 1;
                var rowStart = y * width;
                var counts = foreground.Count;
                var sums = foreground.Sum;
                for (var x = 0; x < width; x++)
                {
                    var p = values[x];
                    var i = x + 1;
                    var north = previous[i];
                    if (p >= threshold)
                    {
                        maskRow[x] = 1;
                        int label;
                        if (north > 0)
                        {
                            label = north;
                        }
                        else
                        {
                            var west = current[i - 1];
                            var northWest = previous[i - 1];
                            var northEast = previous[i + 1];
                            if (west > 0)
                            {
                                label = northEast > 0 && northEast != west ? foreground.Union(west, northEast) : west;
                            }
                            else if (northWest > 0)
                            {
                                label = northEast > 0 && northEast != northWest ? foreground.Union(northWest, northEast) : northWest;
                            }
                            else if (northEast > 0)
                            {
                                label = northEast;
                            }
                            else
                            {
                                label = foreground.Add(rowStart + x, -north - 1);
                                counts = foreground.Count;
                                sums = foreground.Sum;
                            }
                        }

                        current[i] = label;
                        counts[label]++;
                        sums[label] += p;
                    }
                    else
                    {
                        maskRow[x] = 0;
                        var west = current[i - 1];
                        int label;
                        if (north < 0)
                        {
                            label = west < 0 && west != north ? background.Union(-north - 1, -west - 1) : -north - 1;
                        }
                        else if (west < 0)
                        {
                            label = -west - 1;
                        }
                        else
                        {
                            label = background.Add(rowStart + x, north);
                        }

                        if (lastRow || x == width - 1)
                        {
                            label = background.Union(label, Outside);
                        }

                        current[i] = -label - 1;
                        background.Count[label]++;
                    }
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

    private static void ResampleRow(ReadOnlySpan<float> source, ReadOnlySpan<int> left, ReadOnlySpan<int> right, ReadOnlySpan<float> weights, Span<float> row)
    {
        for (var x = 0; x < row.Length; x++)
        {
            var a = source[left[x]];
            row[x] = a + ((source[right[x]] - a) * weights[x]);
        }
    }
}
