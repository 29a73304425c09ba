namespace CellSeg.Data.Model;

public sealed class Project
{
    /// <summary>A new project with a fresh version-7 id, created at <paramref name="now"/>.</summary>
    public Project(DateTimeOffset now)
    {
        Id = Guid.CreateVersion7();
        CreatedAt = now;
        UpdatedAt = now;
    }

    /// <summary>
    /// For EF Core's materialisation only: the row read sets every value, so nothing is generated here (an id and
    /// clock readings per row read were a fifth of the Api's CPU when it listed images).
    /// </summary>
    private Project()
    {
    }

    public Guid Id { get; set; }
    public Guid OwnerId { get; set; }
    public required string Name { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    public CellSegUser? Owner { get; set; }
    public List<Image> Images { get; } = [];
}
