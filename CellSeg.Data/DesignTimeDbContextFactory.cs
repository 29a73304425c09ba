using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace CellSeg.Data;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting a service.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<CellSegDbContext>
{
    public CellSegDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<CellSegDbContext>()
            .UseNpgsql("Host=localhost;Database=cellsegdb")
            .Options);
}
