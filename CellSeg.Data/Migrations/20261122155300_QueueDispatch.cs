using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CellSeg.Data.Migrations
{
    /// <inheritdoc />
    public partial class QueueDispatch : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_segmentation_tasks_ImageId",
                table: "segmentation_tasks");

            migrationBuilder.AddColumn<string>(
                name: "DispatchEpoch",
                table: "segmentation_tasks",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "DispatchedAt",
                table: "segmentation_tasks",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_segmentation_tasks_Status_DispatchEpoch",
                table: "segmentation_tasks",
                columns: new[] { "Status", "DispatchEpoch" });

            migrationBuilder.CreateIndex(
                name: "IX_segmentation_tasks_active_image",
                table: "segmentation_tasks",
                column: "ImageId",
                unique: true,
                filter: "\"Status\" IN ('Queued', 'Processing')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_segmentation_tasks_Status_DispatchEpoch",
                table: "segmentation_tasks");

            migrationBuilder.DropIndex(
                name: "IX_segmentation_tasks_active_image",
                table: "segmentation_tasks");

            migrationBuilder.DropColumn(
                name: "DispatchEpoch",
                table: "segmentation_tasks");

            migrationBuilder.DropColumn(
                name: "DispatchedAt",
                table: "segmentation_tasks");

            migrationBuilder.CreateIndex(
                name: "IX_segmentation_tasks_ImageId",
                table: "segmentation_tasks",
                column: "ImageId");
        }
    }
}
