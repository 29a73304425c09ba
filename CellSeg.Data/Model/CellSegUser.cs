using Microsoft.AspNetCore.Identity;

namespace CellSeg.Data.Model;

/// <summary>A lab user: the owner of projects.</summary>
public sealed class CellSegUser : IdentityUser<Guid>
{
    public List<Project> Projects { get; } = [];
}
