namespace CellSeg.Inference.Models;

public enum ModelState
{
    Loading,
    Ready,
    Failed,
}
