namespace CellSeg.Imaging.Postprocessing;

public enum ObjectKind
{
    /// <summary>The outer boundary of an object.</summary>
    External,

    /// <summary>The boundary of a hole inside an external object.</summary>
    Internal,
}
