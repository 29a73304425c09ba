using CellSeg.Data.Model;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace CellSeg.Data;

public sealed class CellSegDbContext(DbContextOptions<CellSegDbContext> options)
    : IdentityDbContext<CellSegUser, IdentityRole<Guid>, Guid>(options), IDataProtectionKeyContext
{
    /// <summary>Data-protection keys (bearer tokens) shared by every Api replica.</summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    public DbSet<Project> Projects => Set<Project>();
    public DbSet<Image> Images => Set<Image>();
    public DbSet<ImageContent> ImageContents => Set<ImageContent>();
    public DbSet<SegmentationTask> SegmentationTasks => Set<SegmentationTask>();
    public DbSet<SegmentationResult> SegmentationResults => Set<SegmentationResult>();

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);

        builder.Entity<Project>(project =>
        {
            project.ToTable("projects");
            project.Property(p => p.Name).HasMaxLength(200);
            project.HasIndex(p => new { p.OwnerId, p.CreatedAt });
            project.HasOne(p => p.Owner).WithMany(u => u.Projects).HasForeignKey(p => p.OwnerId).OnDelete(DeleteBehavior.Cascade);
        });

        builder.Entity<Image>(image =>
        {
            image.ToTable("images");
            image.Property(i => i.FileName).HasMaxLength(260);
            image.Property(i => i.Format).HasMaxLength(16);
            image.Property(i => i.Status).HasConversion<string>().HasMaxLength(16);
            image.HasIndex(i => new { i.ProjectId, i.Status });
            image.HasOne(i => i.Project).WithMany(p => p.Images).HasForeignKey(i => i.ProjectId).OnDelete(DeleteBehavior.Cascade);
            image.HasOne(i => i.Content).WithOne().HasForeignKey<ImageContent>(c => c.ImageId).OnDelete(DeleteBehavior.Cascade);
        });

        builder.Entity<ImageContent>(content =>
        {
            content.ToTable("image_contents");
            content.HasKey(c => c.ImageId);
        });

        builder.Entity<SegmentationTask>(task =>
        {
            task.ToTable("segmentation_tasks");
            task.Property(t => t.Model).HasMaxLength(64);
            task.Property(t => t.Status).HasConversion<string>().HasMaxLength(16);
            task.HasIndex(t => new { t.Status, t.CreatedAt });
            // One active task per image, whatever races between requests: the database refuses a second.
            task.HasIndex(t => t.ImageId)
                .IsUnique()
                .HasFilter("\"Status\" IN ('Queued', 'Processing')")
                .HasDatabaseName("IX_segmentation_tasks_active_image");
            task.HasIndex(t => new { t.Status, t.DispatchEpoch });
            task.Property(t => t.DispatchEpoch).HasMaxLength(64);
            task.HasIndex(t => t.BatchId);
            task.HasOne(t => t.Image).WithMany().HasForeignKey(t => t.ImageId).OnDelete(DeleteBehavior.Cascade);
        });

        builder.Entity<SegmentationResult>(result =>
        {
            result.ToTable("segmentation_results");
            result.HasKey(r => r.TaskId);
            result.Property(r => r.Model).HasMaxLength(64);
            result.Property(r => r.Device).HasMaxLength(128);
            result.Property(r => r.Objects).HasColumnType("jsonb");
            result.HasIndex(r => new { r.ImageId, r.CreatedAt });
            result.HasOne<SegmentationTask>().WithOne().HasForeignKey<SegmentationResult>(r => r.TaskId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
