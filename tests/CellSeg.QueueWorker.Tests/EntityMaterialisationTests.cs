using CellSeg.Data;
using CellSeg.Data.Model;
using Microsoft.EntityFrameworkCore;

namespace CellSeg.QueueWorker.Tests;

/// <summary>
/// Rows read from Postgres are built with the entities' private empty constructors, so reading thousands of rows
/// does not generate an id and read the clock for each of them; new entities get both from their public one.
/// </summary>
public sealed class EntityMaterialisationTests
{
    [Theory]
    [InlineData(typeof(Image))]
    [InlineData(typeof(Project))]
    [InlineData(typeof(SegmentationTask))]
    [InlineData(typeof(SegmentationResult))]
    public void EfCoreBuildsRowsWithThePrivateEmptyConstructor(Type entity)
    {
        using var db = new CellSegDbContext(new DbContextOptionsBuilder<CellSegDbContext>().UseNpgsql("Host=unused").Options);

        var binding = db.Model.FindEntityType(entity)!.ConstructorBinding!;

        var constructor = Assert.IsType<Microsoft.EntityFrameworkCore.Metadata.ConstructorBinding>(binding).Constructor;
        Assert.True(constructor.IsPrivate);
        Assert.Empty(constructor.GetParameters());
        Assert.Empty(binding.ParameterBindings);
    }

    [Fact]
    public void NewEntitiesGetAnIdAndTheTime()
    {
        var now = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

        var task = new SegmentationTask(now) { Model = "hrnet" };
        var image = new Image(now) { FileName = "a.png", Format = "png" };

        Assert.Equal(7, task.Id.Version);
        Assert.Equal(7, image.Id.Version);
        Assert.NotEqual(task.Id, image.Id);
        Assert.Equal(now, task.CreatedAt);
        Assert.Equal((now, now), (image.CreatedAt, image.UpdatedAt));
    }
}
