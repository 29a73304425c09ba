namespace CellSeg.Imaging.Postprocessing;

/// <summary>
/// Decides, from the labelling's per-component records, which components become objects, which holes are kept, and
/// each object's area and confidence. Nesting is read from the pixel above each component's first pixel: for a
/// foreground component that pixel is in the background region around it (the outside, or a hole of another
/// object); for a hole it is in the object around the hole. First pixels order the tree (a parent's comes before its
/// children's), so one pass backwards totals enclosed areas and one pass forwards settles kept, filled and absorbed.
/// </summary>
internal sealed class ComponentNesting
{
    private ComponentNesting(List<NestedObject> objects) => Objects = objects;

    /// <summary>Kept objects in raster order of their first pixel.</summary>
    public IReadOnlyList<NestedObject> Objects { get; }

    public static ComponentNesting Resolve(ComponentLabelling labelling, PostProcessingOptions options)
    {
        var foreground = labelling.Foreground;
        var background = labelling.Background;
        var nodes = NodesInRasterOrder(foreground, background);

        // Area enclosed by each component's outer boundary: its own pixels plus everything inside its holes.
        var enclosedForeground = new long[foreground.Length];
        var enclosedBackground = new long[background.Length];
        for (var i = nodes.Count - 1; i >= 0; i--)
        {
            var (isForeground, label) = nodes[i];
            if (isForeground)
            {
                enclosedForeground[label] += foreground.Count[label];
                var around = background.Find(foreground.Neighbour[label]);
                if (around != ComponentLabelling.Outside)
                {
                    enclosedBackground[around] += enclosedForeground[label];
                }
            }
            else
            {
                enclosedBackground[label] += background.Count[label];
                enclosedForeground[foreground.Find(background.Neighbour[label])] += enclosedBackground[label];
            }
        }

        // Owner: the object a component's pixels count towards (itself, or the object whose filled hole holds it).
        var owner = new int[foreground.Length];
        var holeKept = new bool[background.Length];
        var holeOwner = new int[background.Length];
        var area = new long[foreground.Length];
        var pixels = new long[foreground.Length];
        var probability = new double[foreground.Length];
        var holes = new Dictionary<int, List<int>>();
        foreach (var (isForeground, label) in nodes)
        {
            if (isForeground)
            {
                var around = background.Find(foreground.Neighbour[label]);
                owner[label] = around == ComponentLabelling.Outside || holeKept[around] ? label : holeOwner[around];
                area[label] = enclosedForeground[label];
                pixels[owner[label]] += foreground.Count[label];
                probability[owner[label]] += foreground.Sum[label];
            }
            else
            {
                var parent = foreground.Find(background.Neighbour[label]);
                holeOwner[label] = owner[parent];
                holeKept[label] = owner[parent] == parent
                    && options.DetectHoles
                    && enclosedBackground[label] >= options.MinObjectArea;
                if (holeKept[label])
                {
                    area[parent] -= enclosedBackground[label];
                    if (!holes.TryGetValue(parent, out var list))
                    {
                        holes[parent] = list = [];
                    }

                    list.Add(label);
                }
            }
        }

        var objects = new List<NestedObject>();
        foreach (var (isForeground, label) in nodes)
        {
            if (isForeground && owner[label] == label && area[label] >= options.MinObjectArea)
            {
                objects.Add(new NestedObject(
                    label,
                    holes.TryGetValue(label, out var list) ? list : [],
                    area[label],
                    probability[label] / pixels[label]));
            }
        }

        return new ComponentNesting(objects);
    }

    private static List<(bool IsForeground, int Label)> NodesInRasterOrder(ComponentTable foreground, ComponentTable background)
    {
        // Roots in label order are already in raster order of their first pixel; merge the two sequences.
        var nodes = new List<(bool, int)>();
        int f = 1, b = 1;
        while (true)
        {
            while (f < foreground.Length && !foreground.IsRoot(f))
            {
                f++;
            }

            while (b < background.Length && !background.IsRoot(b))
            {
                b++;
            }

            if (f >= foreground.Length && b >= background.Length)
            {
                return nodes;
            }

            if (b >= background.Length || (f < foreground.Length && foreground.FirstPixel[f] < background.FirstPixel[b]))
            {
                nodes.Add((true, f++));
            }
            else
            {
                nodes.Add((false, b++));
            }
        }
    }
}

/// <summary>A kept object: its foreground root label, kept hole labels, area in pixels and mean probability.</summary>
internal sealed record NestedObject(int Label, IReadOnlyList<int> Holes, long Area, double Confidence);
