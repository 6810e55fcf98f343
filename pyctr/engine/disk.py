"""`system df`: the disk images, containers and volumes take, and what a prune would free:
images with shared layers counted once (unused ones reclaimable), containers' upper dirs
(stopped ones reclaimable), volumes (unused ones reclaimable)."""

from ..records import record
from . import containers, images as store_images, volumes, views
from .paths import Paths
from .store import ContainerRecord, Store


@record
class ImageUse:
    image: object
    shared: int  # bytes of its layers other images have too
    containers: int


@record
class ContainerUse:
    record: ContainerRecord
    size: int  # its upper dir
    volumes: int


@record
class VolumeUse:
    name: str
    size: int
    links: int  # containers using it


def usage(paths: Paths, store: Store) -> dict:
    """totals: kind -> (count, active, bytes, reclaimable bytes); and per kind, each
    image, container and volume."""
    u = store_images.usage(paths, store)
    records = [views.refresh(paths, store, r) for r in store.list_containers()]
    users: dict[str, int] = {}
    for r in records:
        users[r.image_id] = users.get(r.image_id, 0) + 1
    image_rows = [ImageUse(i, u["shared"][i.id], users.get(i.id, 0)) for i in u["images"]]
    unused = sum(i.size - u["shared"][i.id] for i in u["images"] if i.id not in u["in_use"])
    container_rows = [ContainerUse(r, volumes.size(paths.container_file(r.id, "upper")),
                                   len(store.container_volumes(r.id))) for r in records]
    running = {r.id for r in records if containers.is_running(paths, r)}
    volume_rows = [VolumeUse(v.name, volumes.size(volumes.data_dir(paths, v.name)), len(store.volume_users(v.name)))
                   for v in volumes.listing(store)]
    return {
        "totals": {
            "Images": (len(image_rows), sum(1 for i in u["images"] if i.id in u["in_use"]), u["total"], unused),
            "Containers": (len(records), len(running), sum(c.size for c in container_rows),
                           sum(c.size for c in container_rows if c.record.id not in running)),
            "Local Volumes": (len(volume_rows), sum(1 for v in volume_rows if v.links), sum(v.size for v in volume_rows),
                              sum(v.size for v in volume_rows if not v.links)),
        },
        "images": image_rows, "containers": container_rows, "volumes": volume_rows,
    }
