using System.Buffers;

namespace CellSeg.Imaging.Postprocessing;

/// <summary>
/// Provisional labels of one scan with their union–find forest. Sets are merged towards the smaller label, and
/// labels are issued in raster order, so a root is always the label created at its component's first pixel.
/// </summary>
internal sealed class ComponentTable : IDisposable
{
    private int[] _parent;
    private int[] _count;
    private double[] _sum;
    private int[] _firstPixel;
    private int[] _neighbour;

    public ComponentTable(int capacity)
    {
        _parent = ArrayPool<int>.Shared.Rent(capacity);
        _count = ArrayPool<int>.Shared.Rent(capacity);
        _sum = ArrayPool<double>.Shared.Rent(capacity);
        _firstPixel = ArrayPool<int>.Shared.Rent(capacity);
        _neighbour = ArrayPool<int>.Shared.Rent(capacity);
    }

    public int Length { get; private set; }

    /// <summary>Pixels per label; after <see cref="MergeIntoRoots"/>, per component at its root.</summary>
    public int[] Count => _count;

    /// <summary>Probability sums per label, like <see cref="Count"/>.</summary>
    public double[] Sum => _sum;

    /// <summary>Raster index (y · width + x) of the pixel that created the label.</summary>
    public int[] FirstPixel => _firstPixel;

    /// <summary>The label, in the other table, of the pixel just above <see cref="FirstPixel"/>.</summary>
    public int[] Neighbour => _neighbour;

    public int Add(int firstPixel, int neighbour)
    {
        if (Length == _parent.Length)
        {
            Grow();
        }

        var label = Length++;
        _parent[label] = label;
        _count[label] = 0;
        _sum[label] = 0;
        _firstPixel[label] = firstPixel;
        _neighbour[label] = neighbour;
        return label;
    }

    public int Find(int label)
    {
        var parent = _parent;
        while (parent[label] != label)
        {
            parent[label] = parent[parent[label]];
            label = parent[label];
        }

        return label;
    }

    public int Union(int a, int b)
    {
        a = Find(a);
        b = Find(b);
        if (a == b)
        {
            return a;
        }

        if (a < b)
        {
            _parent[b] = a;
            return a;
        }

        _parent[a] = b;
        return b;
    }

    public bool IsRoot(int label) => _parent[label] == label;

    /// <summary>Adds every label's count and sum into its root and flattens the forest.</summary>
    public void MergeIntoRoots()
    {
        for (var label = 0; label < Length; label++)
        {
            var root = Find(label);
            _parent[label] = root;
            if (root != label)
            {
                _count[root] += _count[label];
                _sum[root] += _sum[label];
            }
        }
    }

    public void Dispose()
    {
        ArrayPool<int>.Shared.Return(_parent);
        ArrayPool<int>.Shared.Return(_count);
        ArrayPool<double>.Shared.Return(_sum);
        ArrayPool<int>.Shared.Return(_firstPixel);
        ArrayPool<int>.Shared.Return(_neighbour);
    }

    private void Grow()
    {
        _parent = GrowArray(_parent);
        _count = GrowArray(_count);
        _sum = GrowArray(_sum);
        _firstPixel = GrowArray(_firstPixel);
        _neighbour = GrowArray(_neighbour);
    }

    private T[] GrowArray<T>(T[] array)
    {
        var larger = ArrayPool<T>.Shared.Rent(array.Length * 2);
        Array.Copy(array, larger, Length);
        ArrayPool<T>.Shared.Return(array);
        return larger;
    }
}
