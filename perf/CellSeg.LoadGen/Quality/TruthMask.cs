using CellSeg.Imaging.Decoding;

namespace CellSeg.LoadGen.Quality;

/// <summary>
/// A true mask with its objects: the 8-connected foreground components, the same connectivity the service uses to
/// form objects, so a ring counts as one object with a hole and touching objects count as one.
/// </summary>
public sealed class TruthMask
{
    private TruthMask(int width, int height, int[] labels, int count)
    {
        Width = width;
        Height = height;
        Labels = labels;
        Count = count;
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>0 for background, 1..<see cref="Count"/> for the component a foreground pixel belongs to; row-major.</summary>
    public int[] Labels { get; }

    public int Count { get; }

    /// <summary>Reads a mask image; a pixel is foreground when its first channel is above half scale (&gt; 127 of 255).</summary>
    public static TruthMask Read(string path)
    {
        var image = ImageDecoder.Decode(File.ReadAllBytes(path));
        var foreground = new bool[image.Width * image.Height];
        var rgb = image.Rgb;
        for (var i = 0; i < foreground.Length; i++)
        {
            foreground[i] = rgb[3 * i] > 0.5f;
        }

        return FromPixels(foreground, image.Width, image.Height);
    }

    public static TruthMask FromPixels(ReadOnlySpan<bool> foreground, int width, int height)
    {
        var labels = new int[width * height];
        var count = 0;
        var stack = new Stack<int>();
        for (var start = 0; start < labels.Length; start++)
        {
            if (!foreground[start] || labels[start] != 0)
            {
                continue;
            }

            labels[start] = ++count;
            stack.Push(start);
            while (stack.Count > 0)
            {
                var pixel = stack.Pop();
                int x = pixel % width, y = pixel / width;
                for (var dy = -1; dy <= 1; dy++)
                {
                    for (var dx = -1; dx <= 1; dx++)
                    {
                        int nx = x + dx, ny = y + dy;
                        if ((uint)nx < (uint)width && (uint)ny < (uint)height)
                        {
                            var next = (ny * width) + nx;
                            if (foreground[next] && labels[next] == 0)
                            {
                                labels[next] = count;
                                stack.Push(next);
                            }
                        }
                    }
                }
            }
        }

        return new TruthMask(width, height, labels, count);
    }
}
