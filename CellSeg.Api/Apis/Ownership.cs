using CellSeg.Data;
using Microsoft.EntityFrameworkCore;

namespace CellSeg.Api.Apis;

/// <summary>The one check every endpoint taking a project id makes: the project exists and is the caller's.</summary>
internal static class Ownership
{
    public static Task<bool> OwnsProjectAsync(this CellSegDbContext db, Guid ownerId, Guid projectId, CancellationToken cancellationToken) =>
        db.Projects.AnyAsync(p => p.Id == projectId && p.OwnerId == ownerId, cancellationToken);
}
