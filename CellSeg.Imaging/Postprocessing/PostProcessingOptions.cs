namespace CellSeg.Imaging.Postprocessing;

/// <summary>How a probability map becomes objects.</summary>
public sealed record PostProcessingOptions
{
    public static PostProcessingOptions Default { get; } = new();

    /// <summary>A pixel is foreground when its resized probability is at least this value.</summary>
    public float Threshold { get; init; } = 0.5f;

    /// <summary>
    /// When true, background regions enclosed by an object become internal polygons. When false they are filled:
    /// no internal polygons, and the object's area includes them (and anything inside them).
    /// </summary>
    public bool DetectHoles { get; init; } = true;

    /// <summary>
    /// Objects whose area (holes subtracted) is below this many original-image pixels are dropped; so are holes
    /// whose enclosed area is below it, which are then filled.
    /// </summary>
    public double MinObjectArea { get; init; } = 50;

    /// <summary>Douglas–Peucker tolerance in original-image pixels applied to output polygons; 0 keeps every corner.</summary>
    public double SimplifyTolerance { get; init; }

    /// <summary>Micrometres per pixel for metrics; null reports metrics in pixels.</summary>
    public double? Scale { get; init; }
}
