"""The road world: roads, the car, sensors, rendering and the Gymnasium environments.

Importing ``envs`` registers ``roadschool/RoadFollow-v0`` (also reachable as
``envs:roadschool/RoadFollow-v0``).
"""

from gymnasium.envs.registration import register, registry

from envs.appearance import LOOKS, Appearance
from envs.car import CarParams
from envs.config import OBSERVATION_TYPES, Disturbances, RoadFollowConfig
from envs.fleet import INFO_KEYS, Fleet
from envs.generation import DEFAULT_FAMILIES, FAMILIES, SPLITS, RoadFamily, generate_road, split_roads
from envs.road import SURFACES, Road, RoadError, load_roads, save_roads
from envs.road_follow import MAX_EPISODE_STEPS, RoadFollowEnv
from envs.road_follow_vector import RoadFollowVectorEnv

ENV_ID = "roadschool/RoadFollow-v0"

if ENV_ID not in registry:
    register(
        id=ENV_ID,
        entry_point="envs.road_follow:RoadFollowEnv",
        vector_entry_point="envs.road_follow_vector:RoadFollowVectorEnv",
        max_episode_steps=MAX_EPISODE_STEPS,
    )

__all__ = [
    "ENV_ID",
    "Appearance",
    "LOOKS",
    "CarParams",
    "Disturbances",
    "RoadFollowConfig",
    "OBSERVATION_TYPES",
    "INFO_KEYS",
    "Fleet",
    "DEFAULT_FAMILIES",
    "FAMILIES",
    "SPLITS",
    "RoadFamily",
    "generate_road",
    "split_roads",
    "Road",
    "RoadError",
    "SURFACES",
    "load_roads",
    "save_roads",
    "RoadFollowEnv",
    "RoadFollowVectorEnv",
]
